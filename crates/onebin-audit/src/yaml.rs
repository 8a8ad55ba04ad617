//! YAML with line numbers: a small tree built from `yaml-rust2`'s event
//! stream, because its `Yaml` values carry no positions and every finding
//! must name a line. Aliases are resolved here, and `<<` merge keys too
//! (YAML 1.1, which GitLab CI relies on and yaml-rust2 leaves to the loader).

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Aliases are expanded by copying; this bounds "billion laughs" input.
const MAX_NODES: usize = 200_000;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A YAML value and the 1-based line where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub line: usize,
}

/// A YAML error with the line it happened on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct YamlError {
    pub line: usize,
    pub message: String,
}

static NULL: Node = Node {
    value: Value::Null,
    line: 0,
};

impl Node {
    pub fn null(line: usize) -> Node {
        Node {
            value: Value::Null,
            line,
        }
    }

    pub fn str(s: &str, line: usize) -> Node {
        Node {
            value: Value::Str(s.to_string()),
            line,
        }
    }

    /// The value under `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(m) => m
                .iter()
                .rev()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Like `get`, but a missing key is a null node, for chaining.
    pub fn at(&self, key: &str) -> &Node {
        self.get(key).unwrap_or(&NULL)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> &[Node] {
        match &self.value {
            Value::Seq(s) => s,
            _ => &[],
        }
    }

    pub fn as_map(&self) -> &[(Node, Node)] {
        match &self.value {
            Value::Map(m) => m,
            _ => &[],
        }
    }

    pub fn is_map(&self) -> bool {
        matches!(self.value, Value::Map(_))
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// A scalar, or each scalar of a sequence (`image: x` and `[a, b]` alike).
    pub fn strings(&self) -> Vec<(String, usize)> {
        match &self.value {
            Value::Str(s) => vec![(s.clone(), self.line)],
            Value::Seq(items) => items.iter().flat_map(|i| i.strings()).collect(),
            _ => Vec::new(),
        }
    }

    /// Script lines: a string, or a sequence of strings and nested sequences
    /// (GitLab flattens nested lists made by `!reference` and anchors).
    pub fn lines(&self) -> Vec<(String, usize)> {
        self.strings()
    }

    /// The mapping's entries with string keys.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.as_map()
            .iter()
            .filter_map(|(k, v)| k.as_str().map(|k| (k, v)))
    }
}

/// Deep merge as GitLab's `extends` does it: mappings merge key by key,
/// anything else in `over` replaces what `base` has.
pub fn deep_merge(base: &Node, over: &Node) -> Node {
    match (&base.value, &over.value) {
        (Value::Map(b), Value::Map(o)) => {
            let mut out = b.clone();
            for (k, v) in o {
                match out.iter_mut().find(|(bk, _)| bk.value == k.value) {
                    Some((_, bv)) => *bv = deep_merge(bv, v),
                    None => out.push((k.clone(), v.clone())),
                }
            }
            Node {
                value: Value::Map(out),
                line: over.line,
            }
        }
        _ => over.clone(),
    }
}

enum Frame {
    Seq(Vec<Node>, usize, usize),
    Map(Vec<(Node, Node)>, Option<Node>, usize, usize),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: Vec<(usize, Node)>,
    docs: Vec<Node>,
    nodes: usize,
    error: Option<YamlError>,
}

fn count(node: &Node) -> usize {
    match &node.value {
        Value::Seq(s) => 1 + s.iter().map(count).sum::<usize>(),
        Value::Map(m) => 1 + m.iter().map(|(k, v)| count(k) + count(v)).sum::<usize>(),
        _ => 1,
    }
}

/// `<<: *a` and `<<: [*a, *b]`: keys the mapping lacks come from the merged
/// mappings, the first one listed winning.
fn apply_merges(entries: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
    if !entries.iter().any(|(k, _)| k.as_str() == Some("<<")) {
        return entries;
    }
    let mut own = Vec::new();
    let mut merged: Vec<(Node, Node)> = Vec::new();
    for (k, v) in entries {
        if k.as_str() == Some("<<") {
            let sources: Vec<Node> = match v.value {
                Value::Map(_) => vec![v],
                Value::Seq(items) => items,
                _ => Vec::new(),
            };
            for source in sources {
                for (mk, mv) in source.as_map() {
                    if !merged.iter().any(|(k2, _)| k2.value == mk.value) {
                        merged.push((mk.clone(), mv.clone()));
                    }
                }
            }
        } else {
            own.push((k, v));
        }
    }
    let mut out: Vec<(Node, Node)> = merged
        .into_iter()
        .filter(|(mk, _)| !own.iter().any(|(k, _)| k.value == mk.value))
        .collect();
    out.extend(own);
    out
}

impl Builder {
    fn push(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.push((anchor, node.clone()));
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq(items, _, _)) => items.push(node),
            Some(Frame::Map(entries, key, _, _)) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }

    fn fail(&mut self, line: usize, message: String) {
        if self.error.is_none() {
            self.error = Some(YamlError { line, message });
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let line = mark.line().max(1);
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            self.fail(line, format!("more than {MAX_NODES} YAML nodes"));
            return;
        }
        match ev {
            Event::Scalar(s, style, anchor, _) => {
                let null = style == TScalarStyle::Plain && matches!(s.as_str(), "~" | "null" | "");
                let node = if null {
                    Node::null(line)
                } else {
                    Node::str(&s, line)
                };
                self.push(node, anchor);
            }
            Event::Alias(id) => match self.anchors.iter().rev().find(|(a, _)| *a == id) {
                Some((_, n)) => {
                    let mut n = n.clone();
                    self.nodes += count(&n);
                    if self.nodes > MAX_NODES {
                        self.fail(line, "aliases expand to too many nodes".into());
                        return;
                    }
                    n.line = line;
                    self.push(n, 0);
                }
                None => self.fail(line, "alias to an unknown anchor".into()),
            },
            Event::SequenceStart(anchor, _) => {
                self.stack.push(Frame::Seq(Vec::new(), anchor, line))
            }
            Event::MappingStart(anchor, _) => {
                self.stack.push(Frame::Map(Vec::new(), None, anchor, line))
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq(items, anchor, l)) => self.push(
                    Node {
                        value: Value::Seq(items),
                        line: l,
                    },
                    anchor,
                ),
                Some(Frame::Map(entries, _, anchor, l)) => self.push(
                    Node {
                        value: Value::Map(apply_merges(entries)),
                        line: l,
                    },
                    anchor,
                ),
                None => self.fail(line, "unbalanced YAML".into()),
            },
            _ => {}
        }
    }
}

/// Parses every document of a YAML stream.
pub fn parse_all(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, true) {
        return Err(YamlError {
            line: e.marker().line().max(1),
            message: e.info().to_string(),
        });
    }
    if let Some(e) = builder.error {
        return Err(e);
    }
    Ok(builder.docs)
}

/// Parses the first document (an empty file is null).
pub fn parse(text: &str) -> Result<Node, YamlError> {
    Ok(parse_all(text)?
        .into_iter()
        .next()
        .unwrap_or_else(|| Node::null(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_anchors_and_merges() {
        let doc = parse(
            "a: 1\n.base: &base\n  image: golang:1.22\n  script: [x]\njob:\n  <<: *base\n  script:\n    - go build\n",
        )
        .unwrap();
        assert_eq!(doc.at("a").line, 1);
        let job = doc.at("job");
        assert_eq!(job.at("image").as_str(), Some("golang:1.22"));
        assert_eq!(job.at("script").lines(), vec![("go build".to_string(), 8)]);
    }

    #[test]
    fn errors_have_lines() {
        let e = parse("a: 1\nb: [\n").unwrap_err();
        assert!(e.line >= 2, "{e}");
        // Junk never panics, whatever the parser makes of it.
        let _ = parse("\u{0}\u{1}\u{2}garbage: : :\n\t- [");
    }

    #[test]
    fn billion_laughs_is_bounded() {
        let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            s.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
        }
        assert!(parse(&s).is_err());
    }
}
