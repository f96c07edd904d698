//! TwiML documents built with quick-xml: text and attribute values are always escaped, the XML
//! declaration comes first, the whole document on one line (as SCFM produced it).

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

/// One TwiML verb. Attributes are written in the order given (callers sort them as SCFM did).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verb {
    Say {
        text: String,
        attrs: Vec<(&'static str, String)>,
    },
    Play {
        url: String,
    },
    Pause {
        length: u32,
    },
    Gather {
        attrs: Vec<(&'static str, String)>,
        children: Vec<Verb>,
    },
    Record {
        attrs: Vec<(&'static str, String)>,
    },
    Redirect {
        url: String,
    },
    Hangup,
}

impl Verb {
    pub fn say(text: impl Into<String>) -> Verb {
        Verb::Say {
            text: text.into(),
            attrs: Vec::new(),
        }
    }
    pub fn play(url: impl Into<String>) -> Verb {
        Verb::Play { url: url.into() }
    }
}

type W = Writer<Vec<u8>>;

fn element(
    w: &mut W,
    name: &str,
    attrs: &[(&str, String)],
    text: Option<&str>,
) -> std::io::Result<()> {
    let mut start = BytesStart::new(name);
    for (k, v) in attrs {
        start.push_attribute((*k, v.as_str()));
    }
    match text {
        None => w.write_event(Event::Empty(start)),
        Some(t) => {
            w.write_event(Event::Start(start))?;
            w.write_event(Event::Text(BytesText::new(t)))?;
            w.write_event(Event::End(BytesEnd::new(name)))
        }
    }
}

fn verb(w: &mut W, v: &Verb) -> std::io::Result<()> {
    match v {
        Verb::Say { text, attrs } => element(w, "Say", attrs, Some(text)),
        Verb::Play { url } => element(w, "Play", &[], Some(url)),
        Verb::Pause { length } => element(w, "Pause", &[("length", length.to_string())], None),
        Verb::Record { attrs } => element(w, "Record", attrs, None),
        Verb::Redirect { url } => element(w, "Redirect", &[], Some(url)),
        Verb::Hangup => element(w, "Hangup", &[], None),
        Verb::Gather { attrs, children } => {
            let mut start = BytesStart::new("Gather");
            for (k, val) in attrs {
                start.push_attribute((*k, val.as_str()));
            }
            if children.is_empty() {
                return w.write_event(Event::Empty(start));
            }
            w.write_event(Event::Start(start))?;
            for c in children {
                verb(w, c)?;
            }
            w.write_event(Event::End(BytesEnd::new("Gather")))
        }
    }
}

/// `<?xml version="1.0" encoding="UTF-8"?><Response>…</Response>`.
pub fn render(verbs: &[Verb]) -> String {
    let mut w = Writer::new(Vec::new());
    let result: std::io::Result<()> = (|| {
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        w.write_event(Event::Start(BytesStart::new("Response")))?;
        for v in verbs {
            verb(&mut w, v)?;
        }
        w.write_event(Event::End(BytesEnd::new("Response")))
    })();
    match result {
        Ok(()) => String::from_utf8(w.into_inner()).unwrap_or_else(|_| apology()),
        Err(_) => apology(),
    }
}

/// What a caller hears when a flow fails: never a 500 to the provider.
pub fn apology() -> String {
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>Sorry, something went wrong. Goodbye.</Say><Hangup/></Response>"
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_twiml_exact() {
        let doc = render(&[
            Verb::say("Thanks for trying our documentation. Enjoy!"),
            Verb::play("http://demo.twilio.com/docs/classic.mp3"),
        ]);
        assert_eq!(
            doc,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>Thanks for trying our documentation. Enjoy!</Say><Play>http://demo.twilio.com/docs/classic.mp3</Play></Response>"
        );
    }

    #[test]
    fn escapes_text_and_attributes() {
        let doc = render(&[Verb::Gather {
            attrs: vec![("action", "http://x/?a=1&b=\"2\"".into())],
            children: vec![Verb::say("<b> & ]]> 'q'")],
        }]);
        assert!(doc.contains("&lt;b&gt; &amp; ]]&gt;"), "{doc}");
        assert!(doc.contains("a=1&amp;b=&quot;2&quot;"), "{doc}");
        let mut reader = quick_xml::Reader::from_str(&doc);
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("not well-formed: {e}"),
            }
        }
    }
}
