//! Error display shared by the AWS clients (Route53, ECS, instance metadata): an error with its whole chain of
//! sources on one line, since the SDKs' errors hide the useful part in their sources.

/// An error and its sources, joined with ": ".
pub(crate) fn display_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
