//! A spying proxy in front of moto_server: it forwards every request (ECS, EC2 and Route53) and counts them by
//! operation and outcome, and it can make EC2 throttle (`RequestLimitExceeded`, HTTP 503, in EC2's error format)
//! and throttle every n-th page of a zone read, or every n-th Route53 request of any kind; it can also reject the
//! next ECS or EC2 requests' credentials as expired.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use actix_web::{web, HttpRequest, HttpResponse};

#[derive(Default)]
struct State {
    upstream: String,
    /// (operation, HTTP status) → count.
    calls: Mutex<BTreeMap<(String, u16), usize>>,
    ec2_failing: Mutex<bool>,
    /// Every n-th zone-read page is throttled (0: none), and how many have come.
    throttle_pages: Mutex<(usize, usize)>,
    /// Every n-th Route53 request of any operation is throttled (0: none), and how many have come.
    throttle_r53: Mutex<(usize, usize)>,
    /// Operation → how many of its next requests are rejected as signed with expired credentials.
    expire: Mutex<BTreeMap<String, usize>>,
}

/// Route53's answer when the account's request bucket is empty.
const R53_THROTTLED: &str = "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>spy</RequestId></ErrorResponse>";

/// EC2's answer when its request bucket is empty.
const EC2_THROTTLED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>5e5a7e4c-0000-4000-8000-000000000000</RequestID></Response>";

/// ECS's answer to expired credentials (JSON protocol).
const ECS_EXPIRED: &str = r#"{"__type":"ExpiredTokenException","message":"The security token included in the request is expired"}"#;

/// EC2's answer to a request signed with expired credentials (query protocol).
const EC2_EXPIRED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>RequestExpired</Code><Message>Request has expired.</Message></Error></Errors><RequestID>5e5a7e4c-0000-4000-8000-000000000001</RequestID></Response>";

/// The running proxy.
pub struct Spy {
    /// Its URL, for `route53.endpoint_url` and `ecs.api_endpoint_url`.
    pub url: String,
    state: Arc<State>,
}

/// `ListContainerInstances`, `DescribeContainerInstances`, ... for ECS; `ec2:DescribeInstances`, ... for EC2
/// (a query request: `Action=` in the form body); `r53:list` (a page of a zone read), `r53:list-name` (one
/// name read), `r53:change`, `r53:zone`.
fn operation(req: &HttpRequest, body: &[u8]) -> String {
    if let Some(action) = body.strip_prefix(b"Action=") {
        let end = action
            .iter()
            .position(|&b| b == b'&')
            .unwrap_or(action.len());
        return format!("ec2:{}", String::from_utf8_lossy(&action[..end]));
    }
    if let Some(target) = req.headers().get("x-amz-target") {
        let t = target.to_str().unwrap_or_default();
        return t.rsplit('.').next().unwrap_or(t).to_string();
    }
    match (req.method().as_str(), req.path().ends_with("/rrset")) {
        // The writer reads one name 100 at a time, and the zone 300 a page.
        ("GET", true) if req.query_string().contains("maxitems=100") => "r53:list-name".into(),
        ("GET", true) => "r53:list".into(),
        ("POST", true) => "r53:change".into(),
        _ => "r53:zone".into(),
    }
}

impl State {
    /// True when this request of `op` is to be rejected as signed with expired credentials.
    fn expired(&self, op: &str) -> bool {
        let mut expire = self.expire.lock().unwrap();
        match expire.get_mut(op) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    /// True when this zone-read page is to be throttled.
    fn throttle_page(&self) -> bool {
        let mut t = self.throttle_pages.lock().unwrap();
        t.1 += 1;
        t.0 != 0 && t.1.is_multiple_of(t.0)
    }

    /// True when this Route53 request is to be throttled (every n-th one, whatever its operation).
    fn throttle_r53(&self) -> bool {
        let mut t = self.throttle_r53.lock().unwrap();
        t.1 += 1;
        t.0 != 0 && t.1.is_multiple_of(t.0)
    }
}

fn send(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Option<(u16, String, Vec<u8>)> {
    let mut r = ureq::request(method, url);
    for (k, v) in headers {
        r = r.set(k, v);
    }
    match r.send_bytes(body) {
        Ok(resp) | Err(ureq::Error::Status(_, resp)) => {
            let (status, ctype) = (resp.status(), resp.content_type().to_string());
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut resp.into_reader(), &mut bytes).ok()?;
            Some((status, ctype, bytes))
        }
        Err(_) => None,
    }
}

async fn forward(req: HttpRequest, body: web::Bytes, state: web::Data<Arc<State>>) -> HttpResponse {
    let op = operation(&req, &body);
    if op.starts_with("ec2:") && *state.ec2_failing.lock().unwrap() {
        *state.calls.lock().unwrap().entry((op, 503)).or_insert(0) += 1;
        return HttpResponse::ServiceUnavailable()
            .content_type("text/xml;charset=UTF-8")
            .body(EC2_THROTTLED);
    }
    if state.expired(&op) {
        *state
            .calls
            .lock()
            .unwrap()
            .entry((op.clone(), 400))
            .or_insert(0) += 1;
        let (ctype, body) = match op.starts_with("ec2:") {
            true => ("text/xml;charset=UTF-8", EC2_EXPIRED),
            false => ("application/x-amz-json-1.1", ECS_EXPIRED),
        };
        return HttpResponse::BadRequest().content_type(ctype).body(body);
    }
    let r53 = op.starts_with("r53:");
    if (op == "r53:list" && state.throttle_page()) || (r53 && state.throttle_r53()) {
        *state.calls.lock().unwrap().entry((op, 400)).or_insert(0) += 1;
        return HttpResponse::BadRequest()
            .content_type("text/xml")
            .body(R53_THROTTLED);
    }
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let url = format!("{}{path}", state.upstream);
    let method = req.method().to_string();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter(|(k, _)| *k != "host" && *k != "content-length")
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let result = web::block(move || send(&method, &url, &headers, &body)).await;
    let Ok(Some((status, ctype, bytes))) = result else {
        return HttpResponse::BadGateway().body("");
    };
    *state.calls.lock().unwrap().entry((op, status)).or_insert(0) += 1;
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .content_type(ctype)
        .body(bytes)
}

impl Spy {
    /// Starts the proxy on a free loopback port in front of `upstream`.
    pub fn start(upstream: &str) -> Self {
        let state = Arc::new(State {
            upstream: upstream.into(),
            ..State::default()
        });
        let data = web::Data::new(state.clone());
        let url = super::serve(move |cfg: &mut web::ServiceConfig| {
            cfg.app_data(data.clone()).default_service(web::to(forward));
        });
        Self { url, state }
    }

    /// Throttles every `n`-th page of a zone read from now on (`Throttling`, HTTP 400; 0: none).
    pub fn throttle_pages(&self, n: usize) {
        *self.state.throttle_pages.lock().unwrap() = (n, 0);
    }

    /// Throttles every `n`-th Route53 request of any operation from now on (`Throttling`, HTTP 400; 0: none):
    /// `n = 2` refuses every other request, half of them, deterministically.
    pub fn throttle_every(&self, n: usize) {
        *self.state.throttle_r53.lock().unwrap() = (n, 0);
    }

    /// Route53 requests (`r53:*`, any operation) answered so far, and how many of them were answered HTTP 400 (the
    /// spy's throttling, or a batch moto refused).
    pub fn r53(&self) -> (usize, usize) {
        let calls = self.state.calls.lock().unwrap();
        let r53 = calls.iter().filter(|((o, _), _)| o.starts_with("r53:"));
        let all = r53.clone().map(|(_, n)| n).sum();
        let throttled = r53.filter(|((_, s), _)| *s == 400).map(|(_, n)| n).sum();
        (all, throttled)
    }

    /// Requests of `op` answered so far (any status).
    pub fn count(&self, op: &str) -> usize {
        let calls = self.state.calls.lock().unwrap();
        calls
            .iter()
            .filter(|((o, _), _)| o == op)
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests of `op` answered with another status than 200.
    pub fn failed(&self, op: &str) -> usize {
        let calls = self.state.calls.lock().unwrap();
        calls
            .iter()
            .filter(|((o, s), _)| o == op && *s != 200)
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests answered so far, of every operation.
    pub fn total(&self) -> usize {
        self.state.calls.lock().unwrap().values().sum()
    }

    /// Every count, for messages: `op status → n`.
    pub fn summary(&self) -> String {
        format!("{:?}", self.state.calls.lock().unwrap())
    }

    /// The next `n` requests of `op` (`DescribeClusters`, `ec2:DescribeInstances`, ...) are rejected as signed
    /// with expired credentials, in the service's error format.
    pub fn expire_credentials(&self, op: &str, n: usize) {
        self.state.expire.lock().unwrap().insert(op.into(), n);
    }

    /// Makes every EC2 request fail as throttled, or pass again.
    pub fn fail_ec2(&self, failing: bool) {
        *self.state.ec2_failing.lock().unwrap() = failing;
    }
}
