-- [cluster] (issue 14): replicas sharing this database split the swarms between them.
-- Times are the database's own clock (now()), so replicas' clocks never need to agree.
-- sqlx applies migrations by version, not in a row: 0004 before 0002/0003 exist is fine.

-- One row per live replica, renewed every lease_secs / 3; a row past expires_at is a dead
-- replica. A replica stopping gracefully deletes its row first, so the others re-plan at once.
CREATE TABLE cluster_replicas (
    node_id    TEXT        PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);

-- Who owns each swarm: only the owner sends monitor.messages and pushes for the swarm's
-- accounts. swarm_id is the u64 swarm id bit-cast to BIGINT. A lease past expires_at may be
-- taken by anyone (its owner stopped pushing before that moment). A replica that should own
-- the swarm instead names itself successor, subscribes the swarm's accounts, then sets
-- successor_ready; the owner then hands the lease over in one UPDATE.
CREATE TABLE cluster_leases (
    swarm_id        BIGINT      PRIMARY KEY,
    owner           TEXT        NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    successor       TEXT,
    successor_ready BOOLEAN     NOT NULL DEFAULT false
);

CREATE INDEX cluster_leases_owner ON cluster_leases (owner);

-- Every committed change to a subscription is announced to the replicas (payload: the account
-- in hex), in the same transaction as the change, so a replica that crashes right after
-- answering a subscribe cannot lose the announcement. Only while replicas are registered:
-- a single relay (no [cluster]) never notifies.
CREATE FUNCTION cluster_announce_subscription() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM cluster_replicas) THEN
        IF TG_OP = 'DELETE' THEN
            PERFORM pg_notify('spr_subscriptions', encode(OLD.account, 'hex'));
        ELSE
            PERFORM pg_notify('spr_subscriptions', encode(NEW.account, 'hex'));
        END IF;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER subscriptions_announce
    AFTER INSERT OR UPDATE OR DELETE ON subscriptions
    FOR EACH ROW EXECUTE FUNCTION cluster_announce_subscription();
