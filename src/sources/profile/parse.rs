//! The parser of the shared `config` and `credentials` files, as the SDKs
//! read them.
//!
//! Two steps, as in the SDKs: each file is read literally into sections
//! (header text, properties in order), then the sections are normalised by
//! the rules of their file (`[profile x]` in `config`, `[x]` in
//! `credentials`, `[default]` in both) and the two files merged, the
//! `credentials` file winning key by key. Doing it in two steps keeps the
//! syntax errors (which stop everything) apart from the naming rules (which
//! silently ignore a section or a key, as the SDKs do).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

use super::error::{Location, ParseError, ParseErrorKind};

/// The two whitespace characters of the format: other Unicode spaces are
/// part of names and values.
const WHITESPACE: &[char] = &[' ', '\t'];
const COMMENT: &[char] = &['#', ';'];

/// Which of the two shared files a text is.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// `~/.aws/config`: `[profile x]`, `[default]`, `[sso-session x]`,
    /// `[services x]`.
    Config,
    /// `~/.aws/credentials`: `[x]`.
    Credentials,
}

/// One property: its value and where it was written. `Debug` shows the
/// location only: a value may be a secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Property {
    value: Zeroizing<String>,
    location: Location,
}

impl Property {
    /// The value, trimmed; continuation lines are joined with `\n`.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Where it was written (the line of its key).
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The sub-properties of a value written as `key =` followed by indented
    /// `name = value` lines (the `[services x]` sections' `sts =` block),
    /// names lower-cased, the last one winning. Empty for a plain value.
    pub fn sub_properties(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for line in self.value.split('\n') {
            if let Some((k, v)) = strip_comment(line, true).split_once('=') {
                let k = k.trim_matches(WHITESPACE);
                if !k.is_empty() {
                    out.insert(k.to_ascii_lowercase(), v.trim_matches(WHITESPACE).to_owned());
                }
            }
        }
        out
    }
}

impl fmt::Debug for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Property({})", self.location)
    }
}

/// A named section: a profile, an `[sso-session x]` or a `[services x]`,
/// with its properties by lower-cased name. `Debug` shows the names of the
/// properties, not their values.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Section {
    name: String,
    properties: BTreeMap<String, Property>,
}

impl Section {
    /// The section's name (`prod` for `[profile prod]`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value of a property; `key` is matched case-insensitively.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.property(key).map(Property::value)
    }

    /// A property with its location; `key` is matched case-insensitively.
    pub fn property(&self, key: &str) -> Option<&Property> {
        if key.bytes().any(|b| b.is_ascii_uppercase()) {
            self.properties.get(&key.to_ascii_lowercase())
        } else {
            self.properties.get(key)
        }
    }

    /// The properties, by lower-cased name, in name order.
    pub fn properties(&self) -> impl Iterator<Item = (&str, &Property)> {
        self.properties.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Whether the section has no property.
    pub fn is_empty(&self) -> bool {
        self.properties.is_empty()
    }
}

impl fmt::Debug for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Section")
            .field("name", &self.name)
            .field("keys", &self.properties.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The profiles, `[sso-session]` and `[services]` sections of the two files,
/// merged. Built by [`ProfileSet::parse`], or by
/// [`ProfileSet::load`](super::ProfileSet::load) from the files the
/// environment names.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProfileSet {
    pub(super) profiles: BTreeMap<String, Section>,
    pub(super) sso_sessions: BTreeMap<String, Section>,
    pub(super) services: BTreeMap<String, Section>,
    pub(super) selected: Option<String>,
    pub(super) env: super::EnvSettings,
}

impl fmt::Debug for ProfileSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProfileSet")
            .field("selected", &self.selected_profile())
            .field("profiles", &self.profiles.values().collect::<Vec<_>>())
            .field("sso_sessions", &self.sso_sessions.values().collect::<Vec<_>>())
            .field("services", &self.services.values().collect::<Vec<_>>())
            .finish()
    }
}

impl ProfileSet {
    /// Parses the texts of a `config` and a `credentials` file (either may
    /// be empty); errors name them `config` and `credentials`.
    ///
    /// # Errors
    /// A syntax error, with the file, line, section and key
    /// ([`ParseErrorKind`] lists them). Sections and keys with invalid names
    /// are ignored, not errors, as in the SDKs.
    ///
    /// ```
    /// use credrefresh::sources::profile::ProfileSet;
    ///
    /// let set = ProfileSet::parse(
    ///     "[profile prod]\nrole_arn = arn:aws:iam::123456789012:role/prod\nsource_profile = base\n",
    ///     "[base]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = wJalrXUtnFEMI\n",
    /// )?;
    /// assert_eq!(set.profile("prod").and_then(|p| p.get("source_profile")), Some("base"));
    /// assert!(set.profile("base").is_some());
    /// # Ok::<(), credrefresh::sources::profile::ParseError>(())
    /// ```
    pub fn parse(config: &str, credentials: &str) -> Result<ProfileSet, ParseError> {
        Self::parse_labelled(
            Some((Arc::from("config"), config)),
            Some((Arc::from("credentials"), credentials)),
        )
    }

    pub(super) fn parse_labelled(
        config: Option<(Arc<str>, &str)>,
        credentials: Option<(Arc<str>, &str)>,
    ) -> Result<ProfileSet, ParseError> {
        let mut set = ProfileSet::default();
        if let Some((label, text)) = config {
            let raw = parse_raw(&label, text)?;
            set.merge(FileKind::Config, raw);
        }
        if let Some((label, text)) = credentials {
            let raw = parse_raw(&label, text)?;
            set.merge(FileKind::Credentials, raw);
        }
        Ok(set)
    }

    /// A profile by name (case-sensitive, as in the SDKs).
    pub fn profile(&self, name: &str) -> Option<&Section> {
        self.profiles.get(name)
    }

    /// An `[sso-session name]` section.
    pub fn sso_session(&self, name: &str) -> Option<&Section> {
        self.sso_sessions.get(name)
    }

    /// A `[services name]` section.
    pub fn services(&self, name: &str) -> Option<&Section> {
        self.services.get(name)
    }

    /// The names of the profiles, in order.
    pub fn profile_names(&self) -> impl Iterator<Item = &str> {
        self.profiles.keys().map(String::as_str)
    }

    /// The names of the `[sso-session]` sections, in order.
    pub fn sso_session_names(&self) -> impl Iterator<Item = &str> {
        self.sso_sessions.keys().map(String::as_str)
    }

    /// The profile selected by `AWS_PROFILE` when the set was loaded from
    /// the environment, else `default`.
    pub fn selected_profile(&self) -> &str {
        self.selected.as_deref().unwrap_or(super::DEFAULT_PROFILE)
    }

    /// Normalises the sections of one file and merges them in, key by key.
    fn merge(&mut self, kind: FileKind, raw: Vec<RawSection>) {
        // In `config`, `[profile default]` wins over `[default]` wherever
        // each is written: if the prefixed form appears, the bare one is
        // ignored entirely.
        let explicit_default = kind == FileKind::Config
            && raw
                .iter()
                .any(|s| classify(kind, &s.header) == Some((Kind::Profile, "default", true)));
        for section in raw {
            let Some((target, name, prefixed)) = classify(kind, &section.header) else {
                continue;
            };
            if target == Kind::Profile && name == "default" && explicit_default && !prefixed {
                continue;
            }
            let map = match target {
                Kind::Profile => &mut self.profiles,
                Kind::SsoSession => &mut self.sso_sessions,
                Kind::Services => &mut self.services,
            };
            let entry = map.entry(name.to_owned()).or_insert_with(|| Section {
                name: name.to_owned(),
                properties: BTreeMap::new(),
            });
            for (key, property) in section.properties {
                if valid_identifier(&key) {
                    entry.properties.insert(key, property);
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Profile,
    SsoSession,
    Services,
}

/// What a header (the trimmed text between the brackets) names in a file of
/// `kind`: the kind of section, its name and whether it had the `profile`
/// prefix. `None` for a header the SDKs ignore (an invalid name, `[x]` in
/// `config`, `[profile x]` in `credentials`).
fn classify(kind: FileKind, header: &str) -> Option<(Kind, &str, bool)> {
    let (target, name, prefixed) = match kind {
        FileKind::Credentials => (Kind::Profile, header, false),
        FileKind::Config => {
            if let Some(name) = strip_keyword(header, "profile") {
                (Kind::Profile, name, true)
            } else if let Some(name) = strip_keyword(header, "sso-session") {
                (Kind::SsoSession, name, false)
            } else if let Some(name) = strip_keyword(header, "services") {
                (Kind::Services, name, false)
            } else if header == "default" {
                (Kind::Profile, header, false)
            } else {
                return None;
            }
        }
    };
    valid_identifier(name).then_some((target, name, prefixed))
}

/// `profile foo` → `foo`: the keyword, at least one space or tab, the name.
fn strip_keyword<'a>(header: &'a str, keyword: &str) -> Option<&'a str> {
    let rest = header.strip_prefix(keyword)?;
    rest.starts_with(WHITESPACE).then(|| rest.trim_matches(WHITESPACE))
}

/// Names of profiles and properties: ASCII letters, digits and
/// `- / . % @ _ : +`, at least one.
fn valid_identifier(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-/.%@_:+".contains(c))
}

/// A section as written: its header and its properties in order.
struct RawSection {
    header: String,
    properties: Vec<(String, Property)>,
}

/// Removes a trailing comment and the whitespace around the text. In
/// headers any `#` or `;` starts a comment; in property lines only one
/// preceded by whitespace does (`value;x` keeps its `;`).
fn strip_comment(line: &str, needs_whitespace: bool) -> &str {
    let line = line.trim_matches(WHITESPACE);
    let mut after_space = false;
    let mut end = line.len();
    for (i, c) in line.char_indices() {
        if COMMENT.contains(&c) && (after_space || !needs_whitespace) {
            end = i;
            break;
        }
        after_space = WHITESPACE.contains(&c);
    }
    line[..end].trim_matches(WHITESPACE)
}

/// Splits `key = value` (comment removed): the key lower-cased and trimmed,
/// the value trimmed.
fn split_property(line: &str) -> Result<(String, &str), PropertyFault> {
    let (k, v) = strip_comment(line, true)
        .split_once('=')
        .ok_or(PropertyFault::NoEquals)?;
    let k = k.trim_matches(WHITESPACE);
    if k.is_empty() {
        return Err(PropertyFault::NoName);
    }
    Ok((k.to_ascii_lowercase(), v.trim_matches(WHITESPACE)))
}

enum PropertyFault {
    NoEquals,
    NoName,
}

/// Reads one file into its sections, literally. Never panics: every index
/// used comes from the text being walked.
fn parse_raw(file: &Arc<str>, text: &str) -> Result<Vec<RawSection>, ParseError> {
    let mut sections: Vec<RawSection> = Vec::new();
    // Whether the last property of the current section opened a block of
    // sub-properties (`key =` with an empty value).
    let mut current_is_block = false;
    let mut in_property = false;
    for (index, line) in text.lines().enumerate() {
        // `lines` leaves a lone `\r` at the end of the text: a line ending too.
        let line = line.strip_suffix('\r').unwrap_or(line);
        let location = Location {
            file: Arc::clone(file),
            line: index + 1,
        };
        if line.trim_matches(WHITESPACE).is_empty() || line.starts_with(COMMENT) {
            continue;
        }
        let error = |sections: &[RawSection], key: Option<String>, kind| ParseError {
            location: location.clone(),
            section: sections.last().map(|s| s.header.clone()),
            key,
            kind,
        };
        if line.starts_with('[') {
            let header = strip_comment(line, false);
            let Some(inner) = header.strip_prefix('[').and_then(|h| h.strip_suffix(']')) else {
                return Err(error(&sections, None, ParseErrorKind::UnterminatedHeader));
            };
            sections.push(RawSection {
                header: inner.trim_matches(WHITESPACE).to_owned(),
                properties: Vec::new(),
            });
            in_property = false;
            current_is_block = false;
        } else if line.starts_with(WHITESPACE) {
            let Some(section) = sections.last_mut() else {
                return Err(error(&sections, None, ParseErrorKind::PropertyOutsideSection));
            };
            let current = if in_property {
                section.properties.last_mut()
            } else {
                None
            };
            let Some((key, property)) = current else {
                return Err(error(&sections, None, ParseErrorKind::ContinuationOutsideProperty));
            };
            if current_is_block {
                if let Err(fault) = split_property(line) {
                    let key = Some(key.clone());
                    let kind = match fault {
                        PropertyFault::NoEquals => ParseErrorKind::SubPropertyWithoutEquals,
                        PropertyFault::NoName => ParseErrorKind::SubPropertyWithoutName,
                    };
                    return Err(error(&sections, key, kind));
                }
            }
            property.value.push('\n');
            property.value.push_str(line.trim_matches(WHITESPACE));
        } else {
            if sections.is_empty() {
                return Err(error(&sections, None, ParseErrorKind::PropertyOutsideSection));
            }
            let (key, value) = match split_property(line) {
                Ok(kv) => kv,
                Err(PropertyFault::NoEquals) => {
                    return Err(error(&sections, None, ParseErrorKind::PropertyWithoutEquals));
                }
                Err(PropertyFault::NoName) => {
                    return Err(error(&sections, None, ParseErrorKind::PropertyWithoutName));
                }
            };
            current_is_block = value.is_empty();
            in_property = true;
            let property = Property {
                value: Zeroizing::new(value.to_owned()),
                location,
            };
            if let Some(section) = sections.last_mut() {
                // A repeated key is pushed again: the merge keeps the last
                // one, and continuations go to the last one pushed.
                section.properties.push((key, property));
            }
        }
    }
    Ok(sections)
}

/// The line of the first byte that is not UTF-8, counted from 1.
pub(super) fn utf8_error(file: &Arc<str>, bytes: &[u8], valid_up_to: usize) -> ParseError {
    let line = bytes
        .get(..valid_up_to)
        .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
        + 1;
    ParseError {
        location: Location {
            file: Arc::clone(file),
            line,
        },
        section: None,
        key: None,
        kind: ParseErrorKind::NotUtf8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &str = "wJalrXUtnFEMIK7MDENGbPxRfiCYSECRET";

    #[test]
    fn errors_name_file_line_section_and_key_never_the_value() {
        let cases = [
            (
                format!("[profile a]\nk = v\n{SECRET}"),
                3,
                None,
                "'=' sign defining a property",
            ),
            (
                format!("[profile a]\nsts =\n  {SECRET}"),
                3,
                Some("sts"),
                "sub-property",
            ),
            (format!("{SECRET} = x"), 1, None, "Expected a profile definition"),
            (format!("[profile {SECRET}"), 1, None, "must end with ']'"),
        ];
        for (text, line, key, message) in cases {
            let err = ProfileSet::parse(&text, "").expect_err(&text);
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains(SECRET), "{shown}");
            assert_eq!(err.location().line(), line, "{shown}");
            assert_eq!(err.location().file(), "config");
            assert_eq!(err.key(), key, "{shown}");
            assert!(shown.contains(message), "{shown}");
        }
        let err = ProfileSet::parse("[profile a]\nsts =\n  = x", "").unwrap_err();
        assert_eq!(
            err.to_string(),
            "error parsing config on line 3 ([profile a], key `sts`): Sub-property did not have a name"
        );
    }

    #[test]
    fn debug_shows_names_and_locations_only() {
        let set = ProfileSet::parse(
            "[profile a]\nregion = eu-west-1",
            &format!("[a]\naws_secret_access_key = {SECRET}\n"),
        )
        .unwrap();
        let shown = format!(
            "{set:?} {:?}",
            set.profile("a").unwrap().properties().collect::<Vec<_>>()
        );
        assert!(!shown.contains(SECRET), "{shown}");
        assert_eq!(
            format!("{set:?}"),
            "ProfileSet { selected: \"default\", profiles: [Section { name: \"a\", \
             keys: [\"aws_secret_access_key\", \"region\"] }], sso_sessions: [], services: [] }"
        );
        let p = set.profile("a").unwrap().property("AWS_SECRET_ACCESS_KEY").unwrap();
        assert_eq!(format!("{p:?}"), "Property(credentials line 2)");
    }

    #[test]
    fn services_sub_properties_are_readable() {
        let set = ProfileSet::parse(
            "[services local]\nsts =\n  endpoint_url = http://127.0.0.1:1 ; note\n  Region = x\ns3 =\n endpoint_url = y",
            "",
        )
        .unwrap();
        let sts = set.services("local").unwrap().property("sts").unwrap();
        let subs = sts.sub_properties();
        assert_eq!(subs.get("endpoint_url").map(String::as_str), Some("http://127.0.0.1:1"));
        assert_eq!(subs.get("region").map(String::as_str), Some("x"));
        assert_eq!(subs.len(), 2);
    }

    #[test]
    fn a_lone_carriage_return_at_the_end_ends_the_line() {
        let set = ProfileSet::parse("[profile a]\r\nk = v\r", "[b]\r").unwrap();
        assert_eq!(set.profile("a").and_then(|p| p.get("k")), Some("v"));
        assert!(set.profile("b").is_some());
    }

    #[test]
    fn not_utf8_names_the_line() {
        let bytes = b"[profile a]\nk = \xff\n".to_vec();
        let e = String::from_utf8(bytes.clone()).unwrap_err();
        let err = utf8_error(&Arc::from("cfg"), &bytes, e.utf8_error().valid_up_to());
        assert_eq!(err.location().line(), 2);
        assert_eq!(
            err.to_string(),
            "error parsing cfg on line 2: The file is not valid UTF-8"
        );
    }

    const VALID: &str = "# comment\n[default]\nregion = us-east-1\n[profile prod]\n\
        role_arn = arn:aws:iam::123456789012:role/prod\nsource_profile = default ; c\n\
        s3 =\n  max_concurrent_requests = 10\n[sso-session s]\nsso_start_url = https://x\n\
        [services local]\nsts =\n  endpoint_url = http://127.0.0.1:9\n";

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(config in any::<String>(), credentials in any::<String>()) {
            if let Err(e) = ProfileSet::parse(&config, &credentials) {
                let lines = config.lines().count().max(credentials.lines().count());
                prop_assert!(e.location().line() >= 1 && e.location().line() <= lines.max(1));
            }
        }

        #[test]
        fn ini_like_text_never_panics(
            lines in proptest::collection::vec("[ \t\\[\\]#;=a-z\r-]{0,12}", 0..20),
        ) {
            let text = lines.join("\n");
            let _ = ProfileSet::parse(&text, &text);
        }

        #[test]
        fn mutated_valid_files_never_panic(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<char>(), 0u8..3), 1..12),
        ) {
            let mut text: Vec<char> = VALID.chars().collect();
            for (at, c, op) in edits {
                if text.is_empty() { text.push(c); continue; }
                let i = at.index(text.len());
                match op {
                    0 => text.insert(i, c),
                    1 => { text.remove(i); }
                    _ => text[i] = c,
                }
            }
            let text: String = text.into_iter().collect();
            match ProfileSet::parse(&text, &text) {
                Ok(set) => {
                    for name in set.profile_names() {
                        let _ = super::super::resolve(&set, name);
                    }
                }
                Err(e) => prop_assert!(e.location().line() >= 1),
            }
        }
    }
}
