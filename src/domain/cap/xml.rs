//! Hardened XML reading shared by the CAP and feed parsers: the document becomes a small tree of
//! [`Element`]s, each with its namespace, local name, attributes, text and place.
//!
//! Refused before anything is built from them, and never expanded:
//! - input over [`MAX_CAP_BYTES`] (checked before the first byte is parsed);
//! - any `<!DOCTYPE …>`: CAP and feeds need none, and a DTD is where XXE (`SYSTEM
//!   "file:///etc/passwd"`) and billion-laughs entities live. The reader stops at the DOCTYPE, so
//!   no entity is ever defined;
//! - any entity reference other than `&amp; &lt; &gt; &quot; &apos;` and numeric character
//!   references (resolved with XML's own table, whatever features quick-xml is built with);
//! - nesting deeper than [`MAX_DEPTH`].

use quick_xml::NsReader;
use quick_xml::escape::{EscapeError, resolve_xml_entity, unescape_with};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

use super::{CapError, CapErrorKind, Pos};

/// The largest document read, alert or feed (2 MiB; CAP alerts are a few KiB, busy feeds a few
/// hundred).
pub const MAX_CAP_BYTES: usize = 2 * 1024 * 1024;

/// The deepest element nesting read. An Atom feed embedding an alert reaches 8
/// (`feed/entry/content/alert/info/area/geocode/value`); 16 leaves room for wrappers.
pub const MAX_DEPTH: usize = 16;

/// One element: namespace URI (if any), local name, attributes, the concatenation of its own
/// text and CDATA (not its children's), its child elements and where its start tag begins.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Element {
    pub ns: Option<String>,
    pub name: String,
    pub attrs: Vec<Attr>,
    pub text: String,
    pub children: Vec<Element>,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Attr {
    pub ns: Option<String>,
    pub name: String,
    pub value: String,
}

impl Element {
    /// The value of an attribute in no namespace (`href`, `type`, …).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_none() && a.name == name)
            .map(|a| a.value.as_str())
    }

    /// Every element below this one, depth first in document order.
    pub fn descendants(&self) -> Vec<&Element> {
        let mut out = Vec::new();
        let mut todo: Vec<&Element> = self.children.iter().rev().collect();
        while let Some(el) = todo.pop() {
            out.push(el);
            todo.extend(el.children.iter().rev());
        }
        out
    }
}

/// Turns byte offsets into lines and columns, walking forward once through the text.
struct Cursor<'a> {
    src: &'a str,
    offset: usize,
    pos: Pos,
}

impl<'a> Cursor<'a> {
    fn new(src: &'a str) -> Self {
        Cursor {
            src,
            offset: 0,
            pos: Pos::START,
        }
    }

    fn at(&mut self, offset: usize) -> Pos {
        let mut target = offset.min(self.src.len());
        while !self.src.is_char_boundary(target) {
            target -= 1;
        }
        if target < self.offset {
            self.offset = 0;
            self.pos = Pos::START;
        }
        for c in self.src[self.offset..target].chars() {
            if c == '\n' {
                self.pos.line += 1;
                self.pos.column = 1;
            } else {
                self.pos.column += 1;
            }
        }
        self.offset = target;
        self.pos
    }
}

fn refused(pos: Pos, message: impl Into<String>) -> CapError {
    CapError::new(pos, CapErrorKind::Refused, message)
}

fn malformed(pos: Pos, message: impl Into<String>) -> CapError {
    CapError::new(pos, CapErrorKind::Malformed, message)
}

/// Reads `xml` into its root element, refusing hostile input (see the module docs).
pub(super) fn parse_document(xml: &str) -> Result<Element, CapError> {
    if xml.len() > MAX_CAP_BYTES {
        return Err(CapError::new(
            Pos::START,
            CapErrorKind::TooLarge,
            format!(
                "the document has {} bytes; scfm reads CAP alerts and feeds of at most {} bytes \
                 (2 MiB) and read none of it",
                xml.len(),
                MAX_CAP_BYTES
            ),
        ));
    }
    let src = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    let mut cursor = Cursor::new(src);
    let mut reader = NsReader::from_str(src);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let start = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let (ns, event) = match reader.read_resolved_event() {
            Ok((ns, event)) => (resolved(ns), event),
            Err(e) => {
                let at = usize::try_from(reader.error_position()).unwrap_or(start);
                return Err(syntax_error(e, cursor.at(at), &stack));
            }
        };
        match event {
            Event::DocType(_) => {
                return Err(refused(
                    cursor.at(start),
                    "<!DOCTYPE> is refused: CAP alerts and feeds need none, and a DTD can define \
                     entities that read local files (XXE) or expand without bound (billion \
                     laughs); nothing in it was read",
                ));
            }
            Event::Start(ref e) | Event::Empty(ref e) => {
                let pos = cursor.at(start);
                let ns = ns.map_err(|prefix| undeclared(pos, &prefix))?;
                if let Some(done) = &root {
                    if stack.is_empty() {
                        return Err(malformed(
                            pos,
                            format!(
                                "a second root element <{}> follows </{}>; a document has one",
                                local(e),
                                done.name
                            ),
                        ));
                    }
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(refused(
                        pos,
                        format!(
                            "<{}> is nested {} elements deep; scfm reads at most {MAX_DEPTH}",
                            local(e),
                            stack.len() + 1
                        ),
                    ));
                }
                let el = element(&reader, ns, e, pos)?;
                if matches!(event, Event::Start(_)) {
                    stack.push(el);
                } else {
                    attach(&mut stack, &mut root, el);
                }
            }
            Event::End(_) => {
                if let Some(el) = stack.pop() {
                    attach(&mut stack, &mut root, el);
                }
            }
            Event::Text(t) => {
                let raw = String::from_utf8_lossy(&t);
                let text = unescape_with(&raw, resolve_xml_entity)
                    .map_err(|e| entity_error(e, start, &raw, &mut cursor))?;
                push_text(&stack, &mut cursor, start, &text)?;
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&text);
                }
            }
            Event::CData(c) => {
                let text = String::from_utf8_lossy(&c).into_owned();
                push_text(&stack, &mut cursor, start, &text)?;
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&text);
                }
            }
            Event::Comment(_) | Event::PI(_) | Event::Decl(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(malformed(
            open.pos,
            format!(
                "<{}> is never closed: the document ends before </{}>",
                open.name, open.name
            ),
        ));
    }
    root.ok_or_else(|| malformed(cursor.at(src.len()), "the document holds no element"))
}

/// Text outside the root element must be blank.
fn push_text(
    stack: &[Element],
    cursor: &mut Cursor<'_>,
    start: usize,
    text: &str,
) -> Result<(), CapError> {
    if stack.is_empty() && !text.trim().is_empty() {
        let skip = text.len() - text.trim_start().len();
        return Err(malformed(
            cursor.at(start + skip),
            "text outside the root element; is this XML at all?",
        ));
    }
    Ok(())
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, el: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

fn local(e: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(e.local_name().as_ref()).into_owned()
}

/// `Ok(namespace)` or `Err(prefix)` when the prefix was never declared.
fn resolved(ns: ResolveResult<'_>) -> Result<Option<String>, String> {
    match ns {
        ResolveResult::Bound(ns) => Ok(Some(String::from_utf8_lossy(ns.as_ref()).into_owned())),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(prefix) => Err(String::from_utf8_lossy(&prefix).into_owned()),
    }
}

fn undeclared(pos: Pos, prefix: &str) -> CapError {
    malformed(
        pos,
        format!("the namespace prefix `{prefix}:` is used but never declared with xmlns:{prefix}"),
    )
}

fn element(
    reader: &NsReader<&[u8]>,
    ns: Option<String>,
    e: &BytesStart<'_>,
    pos: Pos,
) -> Result<Element, CapError> {
    let name = local(e);
    let mut attrs = Vec::new();
    for attr in e.attributes() {
        let attr =
            attr.map_err(|err| malformed(pos, format!("<{name}> has a bad attribute: {err}")))?;
        let key = attr.key;
        if key.as_namespace_binding().is_some() {
            continue;
        }
        let (attr_ns, attr_local) = reader.resolve_attribute(key);
        let attr_ns = resolved(attr_ns).map_err(|prefix| undeclared(pos, &prefix))?;
        let raw = String::from_utf8_lossy(&attr.value);
        let value = unescape_with(&raw, resolve_xml_entity).map_err(|err| {
            refused(
                pos,
                format!("an attribute of <{name}> {}", entity_problem(&err, &raw)),
            )
        })?;
        attrs.push(Attr {
            ns: attr_ns,
            name: String::from_utf8_lossy(attr_local.as_ref()).into_owned(),
            value: value.into_owned(),
        });
    }
    Ok(Element {
        ns,
        name,
        attrs,
        text: String::new(),
        children: Vec::new(),
        pos,
    })
}

fn entity_problem(err: &EscapeError, raw: &str) -> String {
    match err {
        EscapeError::UnrecognizedEntity(_, name) => format!(
            "uses the entity &{name};, which is refused: only &amp; &lt; &gt; &quot; &apos; and \
             numeric character references are read (no DTD entities)"
        ),
        EscapeError::UnterminatedEntity(range) => {
            let tail: String = raw
                .get(range.start..)
                .unwrap_or("")
                .chars()
                .take(12)
                .collect();
            format!("has a bare `&` ({tail:?}…); write it as &amp;")
        }
        EscapeError::InvalidCharRef(e) => format!("has a bad character reference: {e}"),
    }
}

fn entity_error(err: EscapeError, start: usize, raw: &str, cursor: &mut Cursor<'_>) -> CapError {
    let offset = match &err {
        EscapeError::UnrecognizedEntity(range, _) | EscapeError::UnterminatedEntity(range) => {
            range.start
        }
        EscapeError::InvalidCharRef(_) => 0,
    };
    // The range may point just past the `&`; back up to it so the column shows the `&`.
    let amp = raw
        .get(..=offset.min(raw.len().saturating_sub(1)))
        .and_then(|head| head.rfind('&'))
        .unwrap_or(offset);
    refused(
        cursor.at(start + amp),
        format!("the text {}", entity_problem(&err, raw)),
    )
}

fn syntax_error(err: quick_xml::Error, pos: Pos, stack: &[Element]) -> CapError {
    use quick_xml::errors::{IllFormedError, SyntaxError};
    let message = match &err {
        quick_xml::Error::IllFormed(IllFormedError::MismatchedEndTag { expected, found }) => {
            let opened = stack
                .last()
                .map(|o| format!(", opened at line {}", o.pos.line))
                .unwrap_or_default();
            format!("</{found}> closes <{expected}>{opened}: is </{expected}> missing or misspelt?")
        }
        quick_xml::Error::IllFormed(IllFormedError::UnmatchedEndTag(name)) => {
            format!("</{name}> closes an element that was never opened")
        }
        quick_xml::Error::Syntax(SyntaxError::UnclosedTag) => {
            "a tag is not closed with `>` before the document ends".to_string()
        }
        quick_xml::Error::Syntax(SyntaxError::UnclosedDoctype) => {
            return refused(
                pos,
                "<!DOCTYPE> is refused (and this one is not even closed)",
            );
        }
        other => format!("the XML is malformed: {other}"),
    };
    malformed(pos, message)
}
