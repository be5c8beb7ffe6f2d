//! The Zenoh session the bridge opens: a peer with explicit endpoints and
//! no discovery.
//!
//! | setting | value | why |
//! |---------|-------|-----|
//! | `mode` | `peer` | no router needed |
//! | `listen/endpoints` | the `--listen` endpoints only (none by default) | Zenoh's default listens on every interface |
//! | `connect/endpoints` | the `--connect` endpoints | peers find each other only through these |
//! | `connect/retry/period_max_ms` | 1000 | a restarted peer is found again within about a second |
//! | `scouting/multicast/enabled`, `scouting/gossip/enabled` | `false` | no traffic beyond the named endpoints |

use zenoh::Config;

/// Where a bridge listens and what it connects to.
#[derive(Clone, Debug, Default)]
pub struct Endpoints {
    /// Endpoints to listen on, e.g. `tcp/127.0.0.1:7447`.
    pub listen: Vec<String>,
    /// Endpoints to connect to.
    pub connect: Vec<String>,
}

/// The session configuration for `endpoints`.
///
/// # Errors
/// Zenoh's error for an endpoint it cannot parse.
pub fn config(endpoints: &Endpoints) -> zenoh::Result<Config> {
    let list = |v: &[String]| -> String {
        let quoted: Vec<String> = v.iter().map(|e| format!("{e:?}")).collect();
        format!("[{}]", quoted.join(","))
    };
    let mut c = Config::default();
    c.insert_json5("mode", r#""peer""#)?;
    c.insert_json5("listen/endpoints", &list(&endpoints.listen))?;
    c.insert_json5("connect/endpoints", &list(&endpoints.connect))?;
    c.insert_json5(
        "connect/retry",
        r#"{ period_init_ms: 100, period_max_ms: 1000, period_increase_factor: 2 }"#,
    )?;
    c.insert_json5("scouting/multicast/enabled", "false")?;
    c.insert_json5("scouting/gossip/enabled", "false")?;
    Ok(c)
}

/// Opens a session for `endpoints`.
///
/// # Errors
/// Zenoh's error (bad endpoint, port in use, ...).
pub fn open(endpoints: &Endpoints) -> zenoh::Result<zenoh::Session> {
    use zenoh::Wait;
    zenoh::open(config(endpoints)?).wait()
}
