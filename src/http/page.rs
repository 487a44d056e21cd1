//! The human view of `/records`: one HTML table per service (record name), no scripts, no external assets.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::RecordView;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page for `records` (already sorted by name and SetIdentifier).
pub fn render(records: &[RecordView]) -> String {
    let mut by_service: BTreeMap<&str, Vec<&RecordView>> = BTreeMap::new();
    for r in records {
        by_service.entry(&r.name).or_default().push(r);
    }
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>route53-discovery records</title>\
         <style>body{font-family:sans-serif}table{border-collapse:collapse;margin-bottom:1.5em}\
         td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}</style></head><body>\n",
    );
    let _ = writeln!(
        html,
        "<h1>Records held by this agent</h1><p>{} record(s) under {} name(s).</p>",
        records.len(),
        by_service.len()
    );
    for (name, recs) in by_service {
        let _ = writeln!(
            html,
            "<h2>{}</h2><table><tr><th>Type</th><th>Value</th><th>Port</th><th>SetIdentifier</th><th>TTL</th><th>Weight</th></tr>",
            escape(name)
        );
        for r in recs {
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                r.record_type,
                escape(&r.value),
                r.port.map_or(String::new(), |p| p.to_string()),
                escape(&r.set_identifier),
                r.ttl,
                r.weight
            );
        }
        html.push_str("</table>\n");
    }
    html.push_str("</body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(name: &str, id: &str, ip: &str) -> RecordView {
        RecordView {
            name: name.into(),
            set_identifier: id.into(),
            record_type: "A",
            value: ip.into(),
            port: None,
            ttl: 60,
            weight: 1,
        }
    }

    #[test]
    fn one_table_per_service_and_text_is_escaped() {
        let page = render(&[
            view("api.example.com.", "r53d:prod:i1:t-a", "10.0.0.1"),
            view("web.example.com.", "r53d:prod:i1:t-b", "10.0.0.2"),
            view("web.example.com.", "<script>", "10.0.0.3"),
        ]);
        assert_eq!(page.matches("<table>").count(), 2);
        assert!(page.contains("<h2>web.example.com.</h2>"));
        assert!(page.contains("&lt;script&gt;") && !page.contains("<script>"));
        assert!(page.contains("3 record(s) under 2 name(s)"));
    }
}
