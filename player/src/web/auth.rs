//! Passwords (argon2) and the server-side login sessions.
//!
//! A login gets a random 256-bit token (the cookie) and a separate random
//! CSRF token; both live only in memory and expire `session_ttl` after the
//! login (absolute, not sliding). Tokens are compared in constant time.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most logins kept at once; the oldest is dropped beyond.
const MAX_SESSIONS: usize = 256;

/// Name of the login cookie.
pub const SESSION_COOKIE: &str = "sshlog_session";
/// Name of the cookie carrying the login form's CSRF token.
pub const LOGIN_CSRF_COOKIE: &str = "sshlog_login_csrf";

/// An argon2id PHC string for `password` (default parameters, random salt).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
}

/// Whether `password` matches the PHC string `hash` (parameters from the
/// hash). Slow on purpose: call it off the async threads.
pub fn verify_password(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// A fresh random token: 32 bytes, base64url without padding.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// Equality that takes the same time wherever the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// One logged-in browser.
#[derive(Debug, Clone)]
pub struct Login {
    pub user: String,
    pub csrf: String,
    pub expires: Instant,
}

/// The logins, by cookie token.
#[derive(Debug)]
pub struct Sessions {
    ttl: Duration,
    map: Mutex<HashMap<String, Login>>,
}

impl Sessions {
    pub fn new(ttl: Duration) -> Sessions {
        Sessions {
            ttl,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Lifetime of a login.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Starts a login; returns its cookie token.
    pub fn create(&self, user: &str) -> (String, Login) {
        let token = random_token();
        let login = Login {
            user: user.to_string(),
            csrf: random_token(),
            expires: Instant::now() + self.ttl,
        };
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        map.retain(|_, l| l.expires > now);
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, l)| l.expires)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(token.clone(), login.clone());
        (token, login)
    }

    /// The login of `token`, if it exists and has not expired.
    pub fn get(&self, token: &str) -> Option<Login> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        // Look the token up by constant-time comparison of every key, so
        // timing does not reveal how much of a guessed token is right.
        let key = map
            .keys()
            .find(|k| constant_time_eq(k.as_bytes(), token.as_bytes()))
            .cloned()?;
        let login = map.get(&key)?.clone();
        if login.expires <= Instant::now() {
            map.remove(&key);
            return None;
        }
        Some(login)
    }

    /// Ends the login of `token`.
    pub fn remove(&self, token: &str) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|k, _| !constant_time_eq(k.as_bytes(), token.as_bytes()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_long() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token());
    }

    #[test]
    fn sessions_expire_and_end() {
        let s = Sessions::new(Duration::from_secs(60));
        let (t, l) = s.create("admin");
        assert_eq!(s.get(&t).expect("live").csrf, l.csrf);
        assert!(s.get("nope").is_none());
        s.remove(&t);
        assert!(s.get(&t).is_none());
        let s = Sessions::new(Duration::ZERO);
        let (t, _) = s.create("admin");
        assert!(s.get(&t).is_none());
    }

    #[test]
    fn password_round_trip_with_cheap_parameters() {
        let params = argon2::Params::new(16, 1, 1, None).expect("params");
        let a = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let salt = SaltString::generate(&mut OsRng);
        let h = a.hash_password(b"pw", &salt).expect("hash").to_string();
        assert!(verify_password(&h, "pw"));
        assert!(!verify_password(&h, "px"));
        assert!(!verify_password("garbage", "pw"));
    }

    #[test]
    fn constant_time_eq_works() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
