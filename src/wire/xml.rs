//! Just enough XML for S3: a small element tree read with quick-xml, and escaping for writing.

use quick_xml::events::Event;

/// An element: local name (namespace prefix dropped), its text, its child elements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) text: String,
    pub(crate) children: Vec<Element>,
}

impl Element {
    /// The first child called `name`.
    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child called `name`.
    pub(crate) fn children<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Element> + 's {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the first child called `name`.
    pub(crate) fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }
}

const MAX_DEPTH: usize = 32;

/// Parses a document into its root element.
pub(crate) fn parse(xml: &str) -> Result<Element, String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader.read_event().map_err(|e| format!("malformed XML: {e}"))?;
        match event {
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err("XML nested too deeply".into());
                }
                stack.push(Element { name: local_name(start.local_name().as_ref()), ..Element::default() });
            }
            Event::Empty(start) => {
                let element = Element { name: local_name(start.local_name().as_ref()), ..Element::default() };
                attach(&mut stack, &mut root, element);
            }
            Event::End(_) => {
                let element = stack.pop().ok_or("unbalanced XML end tag")?;
                attach(&mut stack, &mut root, element);
            }
            Event::Text(text) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&text.decode().map_err(|e| format!("XML text: {e}"))?);
                }
            }
            Event::CData(data) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&data.decode().map_err(|e| format!("XML CDATA: {e}"))?);
                }
            }
            Event::GeneralRef(reference) => {
                let name = reference.decode().map_err(|e| format!("XML reference: {e}"))?;
                let resolved = resolve_reference(&name).ok_or_else(|| format!("unknown XML entity &{name};"))?;
                if let Some(top) = stack.last_mut() {
                    top.text.push(resolved);
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err("XML ended inside an element".into());
    }
    root.ok_or_else(|| "no XML element".into())
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => {
            if root.is_none() {
                *root = Some(element);
            }
        }
    }
}

fn local_name(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

/// `amp`, `lt`, `gt`, `quot`, `apos`, `#NN` and `#xHH`.
fn resolve_reference(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// Escapes text for an XML element.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_s3_error_documents() {
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The key &quot;a&amp;b&quot; &#233;</Message><Key>a&amp;b</Key><RequestId>R1</RequestId><Empty/></Error>"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.name, "Error");
        assert_eq!(root.text_of("Code"), Some("NoSuchKey"));
        assert_eq!(root.text_of("Message"), Some("The key \"a&b\" é"));
        assert_eq!(root.text_of("Empty"), Some(""));
    }

    #[test]
    fn drops_namespace_prefixes_and_reads_lists() {
        let doc = r#"<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Contents><Key>a</Key></Contents><Contents><Key><![CDATA[b<c]]></Key></Contents></ListBucketResult>"#;
        let root = parse(doc).unwrap();
        let keys: Vec<_> = root.children("Contents").filter_map(|c| c.text_of("Key")).collect();
        assert_eq!(keys, ["a", "b<c"]);
    }

    #[test]
    fn refuses_garbage() {
        assert!(parse("").is_err());
        assert!(parse("<a><b></a>").is_err());
        assert!(parse(&"<a>".repeat(100)).is_err());
    }
}
