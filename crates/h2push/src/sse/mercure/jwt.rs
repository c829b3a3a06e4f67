//! Authorization: the JWS a publisher or subscriber presents, checked and read.
//!
//! This file owns [`JwtKey`] (an HS256 secret or an RS256 public key, from configuration),
//! where a token is looked for in a request (the `Authorization: Bearer` header, then the
//! `access_token` or `authorization` query parameter, then the `mercureAccessToken` or
//! `mercureAuthorization` cookie), and [`Claims`]: the `mercure.publish`,
//! `mercure.subscribe` and `mercure.payload` claims (drafts up to 07), and the `mercure`
//! entries of `authorization_details` (draft 08, `Exact` matchers and `*`), as compiled
//! [`Selector`]s. Signature and time checks (`exp`, `nbf` when present) are the
//! `jsonwebtoken` crate's. Which update a claim allows is decided by the handlers
//! (`publish.rs`, `subscribe.rs`).

use http::header::{AUTHORIZATION, COOKIE};
use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};

use super::topic::Selector;

/// The cookie a browser subscriber carries its JWT in (drafts up to 07).
pub const COOKIE_NAME: &str = "mercureAuthorization";

/// The cookie name draft 08 recommends; also accepted.
pub const COOKIE_NAME_08: &str = "mercureAccessToken";

/// A key that verifies JWS signatures.
///
/// ```
/// use h2push::sse::mercure::JwtKey;
///
/// let key = JwtKey::hs256("!ChangeThisMercureHubJWTSecretKey!");
/// assert_eq!(key.algorithm_name(), "HS256");
/// assert!(JwtKey::rs256_pem(b"not a key").is_err());
/// ```
#[derive(Clone)]
pub struct JwtKey {
    key: DecodingKey,
    alg: Algorithm,
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKey")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl JwtKey {
    /// An HMAC-SHA256 shared secret.
    pub fn hs256(secret: impl AsRef<[u8]>) -> JwtKey {
        JwtKey {
            key: DecodingKey::from_secret(secret.as_ref()),
            alg: Algorithm::HS256,
        }
    }

    /// An RSA public key (PEM, `BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`) for RS256.
    ///
    /// # Errors
    ///
    /// A message if the PEM does not hold an RSA public key.
    pub fn rs256_pem(pem: &[u8]) -> Result<JwtKey, String> {
        let key = DecodingKey::from_rsa_pem(pem)
            .map_err(|e| format!("not an RSA public key in PEM form: {e}"))?;
        Ok(JwtKey {
            key,
            alg: Algorithm::RS256,
        })
    }

    /// A key from configuration: `algorithm` is `HS256` (then `material` is the secret) or
    /// `RS256` (then it is the PEM public key), ASCII case-insensitive.
    ///
    /// # Errors
    ///
    /// A message for another algorithm or an unusable key.
    ///
    /// ```
    /// use h2push::sse::mercure::JwtKey;
    /// assert!(JwtKey::from_config("hs256", b"secret").is_ok());
    /// assert!(JwtKey::from_config("none", b"secret").unwrap_err().contains("HS256 or RS256"));
    /// ```
    pub fn from_config(algorithm: &str, material: &[u8]) -> Result<JwtKey, String> {
        if algorithm.eq_ignore_ascii_case("HS256") {
            if material.is_empty() {
                return Err("the HS256 secret is empty".into());
            }
            Ok(JwtKey::hs256(material))
        } else if algorithm.eq_ignore_ascii_case("RS256") {
            JwtKey::rs256_pem(material)
        } else {
            Err(format!(
                "unsupported JWT algorithm {algorithm:?}: use HS256 or RS256"
            ))
        }
    }

    /// `"HS256"` or `"RS256"`.
    pub fn algorithm_name(&self) -> &'static str {
        match self.alg {
            Algorithm::RS256 => "RS256",
            _ => "HS256",
        }
    }

    /// Verifies `token` and reads its Mercure claims.
    ///
    /// # Errors
    ///
    /// A message for a bad signature, another algorithm, an expired or not-yet-valid token,
    /// or claims of the wrong shape.
    pub fn verify(&self, token: &str) -> Result<Claims, String> {
        let mut validation = Validation::new(self.alg);
        // Mercure tokens often have no `exp`; when one is there it is checked.
        validation.required_spec_claims.clear();
        validation.validate_aud = false;
        validation.leeway = 5;
        let data = decode::<RawClaims>(token, &self.key, &validation)
            .map_err(|e| format!("invalid JWT: {e}"))?;
        let mercure = data.claims.mercure.unwrap_or_default();
        let compile = |v: Option<Vec<String>>| {
            v.map(|list| list.iter().map(|s| Selector::new(s)).collect::<Vec<_>>())
        };
        let mut claims = Claims {
            publish: compile(mercure.publish),
            subscribe: compile(mercure.subscribe),
            payload: mercure.payload,
            expires: data.claims.exp,
        };
        if let Some(details) = data.claims.authorization_details {
            add_details(&mut claims, &details)?;
        }
        Ok(claims)
    }
}

/// Adds draft 08's `mercure` authorization details to `claims`. A malformed `mercure` entry
/// invalidates the whole token (the draft forbids acting on the rest); entries of other
/// types are ignored.
fn add_details(claims: &mut Claims, details: &[serde_json::Value]) -> Result<(), String> {
    const MAX_ENTRIES: usize = 256;
    let bad = |why: &str| Err(format!("invalid JWT: authorization_details: {why}"));
    let mut entries = 0;
    for d in details {
        let Some(obj) = d.as_object() else {
            return bad("an entry is not an object");
        };
        if obj.get("type").and_then(|t| t.as_str()) != Some("mercure") {
            continue;
        }
        let actions: Vec<&str> = match obj.get("actions").and_then(|a| a.as_array()) {
            Some(a) if !a.is_empty() => a.iter().filter_map(|x| x.as_str()).collect(),
            _ => return bad("a mercure entry needs a non-empty actions array"),
        };
        if actions.len() != obj["actions"].as_array().map_or(0, Vec::len)
            || actions.iter().any(|a| *a != "publish" && *a != "subscribe")
        {
            return bad("actions must be \"publish\" and/or \"subscribe\"");
        }
        let topics = match obj.get("topics").and_then(|t| t.as_array()) {
            Some(t) if !t.is_empty() => t,
            _ => return bad("a mercure entry needs a non-empty topics array"),
        };
        let mut selectors = Vec::with_capacity(topics.len());
        for t in topics {
            entries += 1;
            if entries > MAX_ENTRIES {
                return bad("more than 256 topic matchers");
            }
            let Some(m) = t.get("match").and_then(|m| m.as_str()) else {
                return bad("a topic matcher needs a string match");
            };
            match t.get("matchType").map(|m| m.as_str()) {
                None | Some(Some("Exact")) => selectors.push(Selector::exact(m)),
                Some(Some("URLPattern")) if m == "*" => selectors.push(Selector::exact(m)),
                Some(Some("URLPattern")) => {
                    return bad("URLPattern matchers are not supported by this hub")
                }
                _ => return bad("matchType must be \"Exact\" or \"URLPattern\""),
            }
        }
        for a in &actions {
            let list = if *a == "publish" {
                &mut claims.publish
            } else {
                &mut claims.subscribe
            };
            list.get_or_insert_with(Vec::new)
                .extend(selectors.iter().cloned());
        }
        if claims.payload.is_none() && actions.contains(&"subscribe") {
            claims.payload = obj.get("payload").cloned();
        }
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct RawClaims {
    exp: Option<u64>,
    mercure: Option<RawMercure>,
    authorization_details: Option<Vec<serde_json::Value>>,
}

#[derive(serde::Deserialize, Default)]
struct RawMercure {
    publish: Option<Vec<String>>,
    subscribe: Option<Vec<String>>,
    payload: Option<serde_json::Value>,
}

/// The `mercure` claim of a verified token.
#[derive(Debug, Clone, Default)]
pub struct Claims {
    /// `mercure.publish`: topics the bearer may publish to; `None` when absent (publishing
    /// refused).
    pub publish: Option<Vec<Selector>>,
    /// `mercure.subscribe`: topics whose private updates the bearer may receive.
    pub subscribe: Option<Vec<Selector>>,
    /// `mercure.payload`: shared with the subscription events.
    pub payload: Option<serde_json::Value>,
    /// `exp`, in seconds since the Unix epoch: a subscriber's stream ends then.
    pub expires: Option<u64>,
}

/// Where a request's token was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Header,
    Query,
    Cookie,
}

/// The request's token: the `Authorization: Bearer` header, else the `authorization` query
/// parameter, else the `mercureAuthorization` cookie. `Err` for an `Authorization` header
/// that is not a bearer token.
pub(crate) fn find_token(
    headers: &http::HeaderMap,
    query_token: Option<&str>,
) -> Result<Option<(String, Source)>, &'static str> {
    if let Some(v) = headers.get(AUTHORIZATION) {
        let v = v
            .to_str()
            .map_err(|_| "the Authorization header is not ASCII")?;
        let token = v
            .trim()
            .strip_prefix("Bearer ")
            .or_else(|| v.trim().strip_prefix("bearer "))
            .ok_or("the Authorization header must be `Bearer <JWT>`")?;
        return Ok(Some((token.trim().to_owned(), Source::Header)));
    }
    if let Some(t) = query_token.filter(|t| !t.is_empty()) {
        return Ok(Some((t.to_owned(), Source::Query)));
    }
    let cookie = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE_NAME || *k == COOKIE_NAME_08)
        .map(|(_, v)| v.trim_matches('"').to_owned());
    Ok(cookie.map(|c| (c, Source::Cookie)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};

    fn token(secret: &str, claims: serde_json::Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    #[test]
    fn reads_the_mercure_claims() {
        let key = JwtKey::hs256("k");
        let t = token(
            "k",
            serde_json::json!({"mercure": {"publish": ["*"], "subscribe": ["/a/{id}"], "payload": {"u": 1}}}),
        );
        let c = key.verify(&t).unwrap();
        assert!(c.publish.unwrap()[0].matches("x"));
        assert!(c.subscribe.unwrap()[0].matches("/a/1"));
        assert_eq!(c.payload.unwrap()["u"], 1);
    }

    #[test]
    fn refuses_wrong_keys_and_expired_tokens() {
        let key = JwtKey::hs256("k");
        let t = token("other", serde_json::json!({"mercure": {"publish": ["*"]}}));
        assert!(key.verify(&t).is_err());
        let t = token(
            "k",
            serde_json::json!({"exp": 1000, "mercure": {"publish": ["*"]}}),
        );
        assert!(
            key.verify(&t).unwrap_err().contains("xpired"),
            "{:?}",
            key.verify(&t)
        );
        assert!(key.verify("a.b.c").is_err());
    }

    #[test]
    fn reads_draft_08_authorization_details() {
        let key = JwtKey::hs256("k");
        let t = token(
            "k",
            serde_json::json!({"authorization_details": [
                {"type": "other", "anything": 1},
                {"type": "mercure", "actions": ["publish", "subscribe"],
                 "topics": [{"match": "https://example.com/books/{id}"}]},
                {"type": "mercure", "actions": ["subscribe"], "topics": [{"match": "*"}],
                 "payload": {"tenant": 7}}
            ]}),
        );
        let c = key.verify(&t).unwrap();
        let publish = c.publish.unwrap();
        // Exact: the template is not expanded.
        assert!(!publish[0].matches("https://example.com/books/1"));
        assert!(publish[0].matches("https://example.com/books/{id}"));
        assert!(c.subscribe.unwrap()[1].matches("urn:x"));
        assert_eq!(c.payload.unwrap()["tenant"], 7);

        for bad in [
            serde_json::json!([{"type": "mercure", "actions": [], "topics": [{"match": "*"}]}]),
            serde_json::json!([{"type": "mercure", "actions": ["read"], "topics": [{"match": "*"}]}]),
            serde_json::json!([{"type": "mercure", "actions": ["publish"], "topics": []}]),
            serde_json::json!([{"type": "mercure", "actions": ["publish"],
                                "topics": [{"match": "/b/:id", "matchType": "URLPattern"}]}]),
            serde_json::json!(["not an object"]),
        ] {
            let t = token("k", serde_json::json!({"authorization_details": bad}));
            assert!(key.verify(&t).is_err(), "accepted {bad}");
        }
    }

    #[test]
    fn token_places_in_order() {
        let mut h = http::HeaderMap::new();
        h.insert(COOKIE, "x=1; mercureAuthorization=c".parse().unwrap());
        assert_eq!(
            find_token(&h, None).unwrap(),
            Some(("c".into(), Source::Cookie))
        );
        assert_eq!(
            find_token(&h, Some("q")).unwrap(),
            Some(("q".into(), Source::Query))
        );
        h.insert(AUTHORIZATION, "Bearer hh".parse().unwrap());
        assert_eq!(
            find_token(&h, Some("q")).unwrap(),
            Some(("hh".into(), Source::Header))
        );
        h.insert(AUTHORIZATION, "Basic x".parse().unwrap());
        assert!(find_token(&h, None).is_err());
    }
}
