//! Credentials an AWS service rejects as expired, and new ones for the next try. The SDKs' identity cache keeps
//! credentials until their stated expiry, which a service may reach first (clock skew, a revoked session); each
//! rejection gives the requests that follow a new, empty identity cache, so the caller's retry signs anew.

use std::cell::RefCell;

use aws_sdk_route53::config::{IdentityCache, SharedIdentityCache};

/// Codes with which AWS rejects credentials that have expired, or a request whose signature has (signed more than
/// 15 minutes before it arrived: `RequestExpired`). Fresh credentials and a new signature fix them; a signature
/// that does not match (`SignatureDoesNotMatch`, also the answer to a clock that is minutes off) and unknown or
/// denied credentials (`InvalidClientTokenId`, `AccessDenied`) are not among them.
const EXPIRED_CREDENTIALS: [&str; 4] = [
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "TokenRefreshRequired",
];

/// True when `code` rejects a request's credentials as expired.
pub(crate) fn is_expired(code: &str) -> bool {
    EXPIRED_CREDENTIALS.contains(&code)
}

/// The identity cache a client's requests use instead of the client's own, once credentials were rejected. An
/// override rather than a new client, so the client keeps the clock skew it has learnt from the service's
/// answers (its signing corrects for it).
#[derive(Debug, Clone, Default)]
pub(crate) struct FreshIdentity(RefCell<Option<SharedIdentityCache>>);

impl FreshIdentity {
    /// The cache to sign with, once a rejection has asked for one.
    pub(crate) fn cache(&self) -> Option<SharedIdentityCache> {
        self.0.borrow().clone()
    }

    /// Credentials were rejected as expired: the requests that follow resolve new ones.
    pub(crate) fn renew(&self) {
        self.0.replace(Some(IdentityCache::lazy().build()));
    }
}

/// A service answering from a script, and credentials that count how often they were resolved.
#[cfg(test)]
pub(crate) mod scripted {
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, SystemTime};

    use aws_credential_types::provider::future::ProvideCredentials as Future;
    use aws_credential_types::provider::ProvideCredentials;
    use aws_credential_types::Credentials;
    use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorFuture};
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    /// A service answering from a script; it keeps the access key id each request was signed with.
    #[derive(Debug, Clone, Default)]
    pub(crate) struct Scripted {
        pub(crate) replies: Arc<Mutex<VecDeque<(u16, &'static str)>>>,
        pub(crate) signed_by: Arc<Mutex<Vec<String>>>,
    }

    impl HttpConnector for Scripted {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let auth = request.headers().get("authorization").unwrap_or_default();
            let key = auth.split("Credential=").nth(1).unwrap_or_default();
            let key = key.split('/').next().unwrap_or_default().to_string();
            self.signed_by.lock().unwrap().push(key);
            let (status, body) = self.replies.lock().unwrap().pop_front().expect("a reply");
            let status = StatusCode::try_from(status).unwrap();
            HttpConnectorFuture::ready(Ok(HttpResponse::new(status, SdkBody::from(body))))
        }
    }

    /// Credentials valid for an hour whose access key id says how many times they were resolved.
    #[derive(Debug, Default)]
    pub(crate) struct Counting(AtomicUsize);

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> Future<'a>
        where
            Self: 'a,
        {
            let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
            let expiry = SystemTime::now() + Duration::from_secs(3600);
            Future::ready(Ok(Credentials::new(
                format!("AKID{n}"),
                "secret",
                Some("token".into()),
                Some(expiry),
                "test",
            )))
        }
    }
}
