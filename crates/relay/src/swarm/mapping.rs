//! Account → swarm mapping (PROTOCOL §6), identical to SS `pubkey_to_swarm_space` /
//! `get_swarm_by_pk`. All arithmetic is u64 with wrap-around.

use crate::subscription::AccountId;

/// The "no swarm" id oxend reports for nodes not yet in a swarm (§13).
pub const INVALID_SWARM_ID: u64 = u64::MAX;

/// XOR of the four big-endian u64 words after the prefix byte.
pub fn swarm_space(account: &AccountId) -> u64 {
    account.as_bytes()[1..]
        .chunks_exact(8)
        .map(|w| u64::from_be_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]))
        .fold(0, |acc, w| acc ^ w)
}

/// The swarm of `space` among `ids` (sorted, de-duplicated); ties go to the lower id, and
/// across the wrap point to the largest id.
pub fn swarm_for_space(space: u64, ids: &[u64]) -> Option<u64> {
    match ids {
        [] => None,
        [only] => Some(*only),
        _ => {
            let r = ids.partition_point(|&id| id < space) % ids.len();
            let l = if r == 0 { ids.len() - 1 } else { r - 1 };
            let dr = ids[r].wrapping_sub(space);
            let dl = space.wrapping_sub(ids[l]);
            Some(if dr < dl { ids[r] } else { ids[l] })
        }
    }
}

/// The swarm of `account` among `ids` (sorted, de-duplicated).
pub fn swarm_of(account: &AccountId, ids: &[u64]) -> Option<u64> {
    swarm_for_space(swarm_space(account), ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vectors() -> serde_json::Value {
        crate::test_support::vectors("swarm.json")
    }

    fn account(hex_id: &serde_json::Value) -> AccountId {
        let mut id = [0u8; 33];
        hex::decode_to_slice(hex_id.as_str().unwrap(), &mut id).unwrap();
        AccountId(id)
    }

    fn u64_of(v: &serde_json::Value) -> u64 {
        v.as_str().unwrap().parse().unwrap()
    }

    #[test]
    fn every_space_vector() {
        let v = vectors();
        let cases = v["space"].as_array().unwrap();
        assert!(cases.len() >= 10);
        for case in cases {
            assert_eq!(
                swarm_space(&account(&case["account"])),
                u64_of(&case["space"]),
                "{case}"
            );
        }
    }

    #[test]
    fn every_mapping_vector() {
        let v = vectors();
        let mut checked = 0;
        for set in v["mapping"].as_array().unwrap() {
            let mut ids: Vec<u64> = set["swarm_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(u64_of)
                .collect();
            ids.sort_unstable();
            ids.dedup();
            for case in set["cases"].as_array().unwrap() {
                let acc = account(&case["account"]);
                assert_eq!(swarm_space(&acc), u64_of(&case["space"]), "{case}");
                assert_eq!(
                    swarm_of(&acc, &ids),
                    Some(u64_of(&case["swarm_id"])),
                    "{case}"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 32);
    }

    #[test]
    fn empty_and_single_sets() {
        assert_eq!(swarm_for_space(5, &[]), None);
        assert_eq!(swarm_for_space(5, &[77]), Some(77));
        // u64::MAX with a swarm at 0: distance 1 across the wrap, no overflow.
        assert_eq!(swarm_for_space(u64::MAX, &[0, 1 << 63]), Some(0));
    }
}
