//! The one "credential rejected → renew → retry once" every token-authenticated provider
//! follows (PROTOCOL §11.1 APNs JWT, §11.2 FCM and §11.3 HMS OAuth bearer tokens).
//!
//! A provider says what differs and nothing else: its verdict table answers
//! [`Answer::CredentialRejected`] on the rows that mean "the credential we sent was refused",
//! its [`Renewable::attempt`] makes one request and hands back the credential it carried, and
//! [`Renewable::renew`] forgets that credential. [`send_renewing`] runs the loop.

use std::sync::Arc;

use async_trait::async_trait;

use super::{http, Push, Verdict};

/// What one request produced: a final verdict, or the provider refusing our credential.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Answer {
    /// Anything but a refused credential.
    Verdict(Verdict),
    /// The credential was refused (expired, revoked, unknown): renew it and retry once.
    /// The reason is the provider's, from a closed set (metric label).
    CredentialRejected(&'static str),
}

impl Answer {
    /// The verdict when no retry is possible: a refused credential drops the push and alerts.
    pub(crate) fn into_verdict(self) -> Verdict {
        match self {
            Answer::Verdict(verdict) => verdict,
            Answer::CredentialRejected(reason) => Verdict::drop_alert(reason),
        }
    }
}

impl From<Verdict> for Answer {
    fn from(verdict: Verdict) -> Self {
        Answer::Verdict(verdict)
    }
}

/// Sends one request and classifies the provider's answer by `table`; a request that got no
/// answer at all is a retry verdict (`http::send`).
pub(crate) async fn ask(
    request: reqwest::RequestBuilder,
    table: impl FnOnce(&http::Reply) -> Answer,
) -> Answer {
    match http::send(request).await {
        Ok(reply) => table(&reply),
        Err(verdict) => verdict.into(),
    }
}

/// A provider whose requests carry a credential it can renew.
#[async_trait]
pub(crate) trait Renewable: Send + Sync {
    /// Service name, for the log line.
    fn service(&self) -> &str;

    /// One request for `push`, and the credential it carried (`None` when there was none to
    /// send, e.g. certificate auth or a failed token exchange: nothing to renew then).
    async fn attempt(&self, push: &Push) -> (Answer, Option<Arc<str>>);

    /// Forgets `rejected` so the next attempt carries a new credential; a credential that a
    /// concurrent send already replaced is left alone (one renewal per rejection burst).
    async fn renew(&self, rejected: &str);
}

/// Sends `push`; a refused credential is renewed and the push retried once, then dropped.
pub(crate) async fn send_renewing<P: Renewable + ?Sized>(provider: &P, push: &Push) -> Verdict {
    match provider.attempt(push).await {
        (Answer::CredentialRejected(reason), Some(rejected)) => {
            tracing::warn!(
                service = provider.service(),
                reason,
                "credential refused; renewing"
            );
            provider.renew(&rejected).await;
            provider.attempt(push).await.0.into_verdict()
        }
        (answer, _) => answer.into_verdict(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::subscription::DeviceToken;

    /// Answers from a script, and records the credentials sent and renewed.
    struct Scripted {
        answers: Mutex<Vec<Answer>>,
        credential: Option<Arc<str>>,
        renewed: Mutex<Vec<String>>,
    }

    impl Scripted {
        fn new(credential: Option<&str>, answers: Vec<Answer>) -> Self {
            Scripted {
                answers: Mutex::new(answers.into_iter().rev().collect()),
                credential: credential.map(Arc::from),
                renewed: Mutex::default(),
            }
        }

        fn calls_left(&self) -> usize {
            self.answers.lock().unwrap().len()
        }
    }

    #[async_trait]
    impl Renewable for Scripted {
        fn service(&self) -> &str {
            "test"
        }

        async fn attempt(&self, _: &Push) -> (Answer, Option<Arc<str>>) {
            let answer = self.answers.lock().unwrap().pop().unwrap();
            (answer, self.credential.clone())
        }

        async fn renew(&self, rejected: &str) {
            self.renewed.lock().unwrap().push(rejected.to_owned());
        }
    }

    fn push() -> Push {
        Push {
            service: "test".into(),
            token: DeviceToken::new("t".repeat(40)),
            enc_payload: "AAAA".into(),
            has_data: true,
            namespace: 0,
        }
    }

    #[tokio::test]
    async fn a_refused_credential_is_renewed_and_the_push_retried_once() {
        let p = Scripted::new(
            Some("old"),
            vec![
                Answer::CredentialRejected("Expired"),
                Verdict::Delivered.into(),
            ],
        );
        assert_eq!(send_renewing(&p, &push()).await, Verdict::Delivered);
        assert_eq!(*p.renewed.lock().unwrap(), vec!["old".to_string()]);
        assert_eq!(p.calls_left(), 0);
    }

    #[tokio::test]
    async fn refused_twice_drops_and_alerts() {
        let p = Scripted::new(
            Some("old"),
            vec![
                Answer::CredentialRejected("Expired"),
                Answer::CredentialRejected("Expired"),
                Verdict::Delivered.into(),
            ],
        );
        assert_eq!(
            send_renewing(&p, &push()).await,
            Verdict::drop_alert("Expired")
        );
        assert_eq!(p.calls_left(), 1, "exactly one retry");
    }

    #[tokio::test]
    async fn without_a_credential_nothing_is_renewed_or_retried() {
        let p = Scripted::new(None, vec![Answer::CredentialRejected("Forbidden")]);
        assert_eq!(
            send_renewing(&p, &push()).await,
            Verdict::drop_alert("Forbidden")
        );
        assert!(p.renewed.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn other_verdicts_pass_through_untouched() {
        let retry = Verdict::retry("x", None);
        let p = Scripted::new(Some("c"), vec![retry.clone().into()]);
        assert_eq!(send_renewing(&p, &push()).await, retry);
        assert!(p.renewed.lock().unwrap().is_empty());
    }
}
