//! A small well-formedness checker for the HTML the lab writes (and the SVG inlined in it):
//! every element is closed in order, attributes are quoted, character references are valid,
//! and there is exactly one `<html>` root. It is deliberately strict (XHTML-like), which
//! the report satisfies; it is not a general HTML5 parser.

/// HTML void elements (no closing tag).
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr",
];

/// Checks `html`; on failure returns a message with the byte offset and line.
pub fn check_well_formed(html: &str) -> Result<(), String> {
    let b = html.as_bytes();
    let mut i = 0;
    let mut stack: Vec<String> = Vec::new();
    let mut roots = 0;
    let line_of = |pos: usize| line_of(html, pos);
    while i < b.len() {
        match b[i] {
            b'<' => {
                if let Some(end) = skip_markup(html, i)? {
                    i = end;
                    continue;
                }
                let tag = read_tag(html, i)?;
                let name = tag.name;
                let k = tag.end;
                if tag.closing {
                    match stack.pop() {
                        Some(open) if open == name => {}
                        Some(open) => {
                            return Err(format!("line {}: </{name}> closes <{open}>", line_of(i)))
                        }
                        None => {
                            return Err(format!("line {}: </{name}> without opening", line_of(i)))
                        }
                    }
                } else if !tag.self_closing && !VOID.contains(&name.as_str()) {
                    if stack.is_empty() {
                        roots += 1;
                    }
                    if name == "style" || name == "script" {
                        // raw text up to the closing tag
                        let close = format!("</{name}>");
                        let end = html[k..]
                            .find(&close)
                            .ok_or_else(|| format!("line {}: unterminated <{name}>", line_of(i)))?;
                        i = k + end + close.len();
                        continue;
                    }
                    stack.push(name);
                } else if stack.is_empty() {
                    roots += 1;
                }
                i = k;
            }
            b'&' => {
                let end = html[i..]
                    .find(';')
                    .filter(|e| *e < 12)
                    .ok_or_else(|| format!("line {}: bare `&`", line_of(i)))?;
                check_refs(&html[i..=i + end]).map_err(|e| format!("line {}: {e}", line_of(i)))?;
                i += end + 1;
            }
            _ => i += 1,
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("<{open}> is never closed"));
    }
    if roots != 1 {
        return Err(format!("expected one root element, found {roots}"));
    }
    Ok(())
}

/// The line (from 1) of byte offset `pos`.
fn line_of(html: &str, pos: usize) -> usize {
    html[..pos].matches('\n').count() + 1
}

/// A comment (`<!-- -->`), declaration (`<!…>`) or processing instruction (`<?…>`) at `i`:
/// the offset just past it; None if `i` starts a tag instead.
fn skip_markup(html: &str, i: usize) -> Result<Option<usize>, String> {
    if html[i..].starts_with("<!--") {
        let end = html[i..]
            .find("-->")
            .ok_or_else(|| format!("line {}: unterminated comment", line_of(html, i)))?;
        return Ok(Some(i + end + 3));
    }
    if html[i..].starts_with("<!") || html[i..].starts_with("<?") {
        let end = html[i..]
            .find('>')
            .ok_or_else(|| format!("line {}: unterminated declaration", line_of(html, i)))?;
        return Ok(Some(i + end + 1));
    }
    Ok(None)
}

/// An opening, closing or self-closing tag, read.
struct Tag {
    /// The element name, lowercase.
    name: String,
    closing: bool,
    self_closing: bool,
    /// The offset just past the tag's `>`.
    end: usize,
}

/// Reads the tag starting with the `<` at `i`, checking its attributes.
fn read_tag(html: &str, i: usize) -> Result<Tag, String> {
    let b = html.as_bytes();
    let closing = b.get(i + 1) == Some(&b'/');
    let start = if closing { i + 2 } else { i + 1 };
    let mut j = start;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'-' || b[j] == b':') {
        j += 1;
    }
    let name = html[start..j].to_ascii_lowercase();
    if name.is_empty() {
        return Err(format!("line {}: `<` not starting a tag", line_of(html, i)));
    }
    let (end, self_closing) = read_attributes(html, i, j, &name, closing)?;
    Ok(Tag {
        name,
        closing,
        self_closing,
        end,
    })
}

/// The attributes of the tag at `i` from `k` up to `>` (quoted values may contain `>`): the
/// offset past the tag and whether it ends in `/>`.
fn read_attributes(
    html: &str,
    i: usize,
    mut k: usize,
    name: &str,
    closing: bool,
) -> Result<(usize, bool), String> {
    let b = html.as_bytes();
    let line = || line_of(html, i);
    loop {
        while k < b.len() && b[k].is_ascii_whitespace() {
            k += 1;
        }
        if k >= b.len() {
            return Err(format!("line {}: unterminated tag <{name}>", line()));
        }
        if b[k] == b'>' {
            return Ok((k + 1, false));
        }
        if b[k] == b'/' && b.get(k + 1) == Some(&b'>') {
            return Ok((k + 2, true));
        }
        if closing {
            return Err(format!("line {}: junk in closing tag </{name}>", line()));
        }
        let a0 = k;
        while k < b.len()
            && !b[k].is_ascii_whitespace()
            && !matches!(b[k], b'=' | b'>' | b'/' | b'"' | b'\'')
        {
            k += 1;
        }
        if k == a0 {
            return Err(format!("line {}: bad attribute in <{name}>", line()));
        }
        if b.get(k) == Some(&b'=') {
            k += 1;
            let q = *b.get(k).ok_or("unterminated attribute")?;
            if q != b'"' && q != b'\'' {
                return Err(format!(
                    "line {}: unquoted attribute value in <{name}>",
                    line()
                ));
            }
            let end = html[k + 1..]
                .find(q as char)
                .ok_or_else(|| format!("line {}: unterminated attribute value", line()))?;
            check_refs(&html[k + 1..k + 1 + end]).map_err(|e| format!("line {}: {e}", line()))?;
            k += end + 2;
        }
    }
}

/// Every `&...;` in `s` must be a known named or numeric character reference.
fn check_refs(s: &str) -> Result<(), String> {
    let mut rest = s;
    while let Some(p) = rest.find('&') {
        let tail = &rest[p + 1..];
        let end = tail.find(';').ok_or("bare `&`")?;
        let name = &tail[..end];
        let ok = matches!(name, "amp" | "lt" | "gt" | "quot" | "apos" | "nbsp")
            || (name.starts_with("#x") && u32::from_str_radix(&name[2..], 16).is_ok())
            || (name.starts_with('#') && name[1..].parse::<u32>().is_ok());
        if !ok {
            return Err(format!("unknown character reference `&{name};`"));
        }
        rest = &tail[end + 1..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_well_formed;

    #[test]
    fn accepts_a_small_document() {
        let doc = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"/><style>a>b{}</style></head>\
                   <body><p title=\"x &amp; y\">a &lt; b<br></p><svg><rect x=\"1\"/></svg></body></html>";
        check_well_formed(doc).unwrap();
    }

    #[test]
    fn rejects_broken_documents() {
        for bad in [
            "<html><p></html>",
            "<html><p></div></p></html>",
            "<html>a & b</html>",
            "<html><p a=b></p></html>",
            "<html></html><p></p>",
            "<html><p>",
            "<html>&bogus;</html>",
        ] {
            assert!(check_well_formed(bad).is_err(), "accepted {bad}");
        }
    }
}
