//! The what-if lab: a finished run's recorded queue replayed under up to three policies side by
//! side (`GET /api/runs/{id}/whatif?a=…&b=…&c=…`).
//!
//! A policy travels as one short query value in KEDA's own words, `key:value` pairs joined by
//! commas — `profile:aks,pollingInterval:5,behavior:conservative` — so the page's address is the
//! shareable link, and the same address with `format=csv`, `svg` or `png` is the export. The
//! page and the server parse it with the same code, here.

use std::fmt;

use serde::{Deserialize, Serialize};

pub use autoscale::{SimRow, Summary};

/// Policies compared at once; each is a replay of the whole run.
pub const MAX_POLICIES: usize = 3;
/// The query keys of the policies, which are also their labels on the page.
pub const POLICY_KEYS: [&str; MAX_POLICIES] = ["a", "b", "c"];
/// The longest policy value accepted: every key set with long numbers fits well inside.
pub const MAX_POLICY_CHARS: usize = 300;

/// Where a policy starts before its overrides.
pub const PROFILES: [&str; 4] = ["cluster", "demo", "aks", "seed-demo"];

/// HPA behaviors to choose from, as `advanced.horizontalPodAutoscalerConfig.behavior` would set
/// them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BehaviorPreset {
    /// No behavior: what KEDA creates by default, and the HPA's legacy rules.
    KedaDefault,
    /// Scale up at once by up to 100 % or 10 pods per 15 s, down slowly: a 5-minute window and
    /// at most 10 % per minute.
    FastUpSlowDown,
    /// A minute's stabilization up and at most 2 pods per minute; 10 minutes' and 1 pod per
    /// minute down.
    Conservative,
}

impl BehaviorPreset {
    pub const ALL: [BehaviorPreset; 3] = [
        BehaviorPreset::KedaDefault,
        BehaviorPreset::FastUpSlowDown,
        BehaviorPreset::Conservative,
    ];

    /// The name in a policy value.
    pub fn key(self) -> &'static str {
        match self {
            BehaviorPreset::KedaDefault => "keda-default",
            BehaviorPreset::FastUpSlowDown => "fast-up-slow-down",
            BehaviorPreset::Conservative => "conservative",
        }
    }

    /// The name on the page.
    pub fn label(self) -> &'static str {
        match self {
            BehaviorPreset::KedaDefault => "KEDA default (no behavior)",
            BehaviorPreset::FastUpSlowDown => "fast up, slow down",
            BehaviorPreset::Conservative => "conservative",
        }
    }

    pub fn from_key(key: &str) -> Option<BehaviorPreset> {
        BehaviorPreset::ALL.into_iter().find(|p| p.key() == key)
    }

    /// The behavior it stands for; `None` is KEDA's default of no behavior at all.
    pub fn behavior(self) -> Option<autoscale::policy::Behavior> {
        use autoscale::policy::{Behavior, HpaScalingPolicy as P, HpaScalingRules, SelectPolicy};
        use std::time::Duration;
        let rules = |window: u64, policies: Vec<P>| HpaScalingRules {
            stabilization_window_seconds: Some(Duration::from_secs(window)),
            select_policy: Some(SelectPolicy::Max),
            policies: Some(policies),
            tolerance: None,
        };
        let s = Duration::from_secs;
        match self {
            BehaviorPreset::KedaDefault => None,
            BehaviorPreset::FastUpSlowDown => Some(Behavior {
                scale_up: Some(rules(0, vec![P::percent(100, s(15)), P::pods(10, s(15))])),
                scale_down: Some(rules(300, vec![P::percent(10, s(60))])),
            }),
            BehaviorPreset::Conservative => Some(Behavior {
                scale_up: Some(rules(60, vec![P::pods(2, s(60))])),
                scale_down: Some(rules(600, vec![P::pods(1, s(60))])),
            }),
        }
    }
}

/// The numbers a policy may set, in KEDA's (and the node pool's) words.
pub const NUMBER_KEYS: [&str; 8] = [
    "pollingInterval",
    "cooldownPeriod",
    "minReplicaCount",
    "maxReplicaCount",
    "queueLength",
    "activationQueueLength",
    "minNodes",
    "maxNodes",
];

/// One policy of a comparison: a starting profile, an HPA behavior, and numbers that override
/// the profile's.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PolicySpec {
    /// One of [`PROFILES`]; `None` is `cluster`, the policy in force.
    pub profile: Option<String>,
    /// `None` keeps the profile's behavior.
    pub behavior: Option<BehaviorPreset>,
    /// `(key, value)` in [`NUMBER_KEYS`] order, each key at most once.
    pub numbers: Vec<(&'static str, u64)>,
}

/// Why a policy value cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PolicyError {}

impl PolicySpec {
    /// Reads `profile:aks,pollingInterval:5,…`. Keys are KEDA's, case as written there; an
    /// unknown key, a repeated key or a value out of range is refused with its name.
    pub fn parse(text: &str) -> Result<PolicySpec, PolicyError> {
        let fail = |message: String| Err(PolicyError(message));
        if text.len() > MAX_POLICY_CHARS {
            return fail(format!(
                "a policy is at most {MAX_POLICY_CHARS} characters, not {}",
                text.len()
            ));
        }
        let mut spec = PolicySpec::default();
        let mut seen: Vec<String> = Vec::new();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((key, value)) = pair.split_once(':') else {
                return fail(format!("`{pair}` is not key:value"));
            };
            let (key, value) = (key.trim(), value.trim());
            if seen.iter().any(|k| k == key) {
                return fail(format!("{key} is given twice"));
            }
            match key {
                "profile" => {
                    if !PROFILES.contains(&value) {
                        return fail(format!(
                            "profile must be one of {}, not `{value}`",
                            PROFILES.join(", ")
                        ));
                    }
                    spec.profile = Some(value.to_string());
                }
                "behavior" => {
                    let Some(preset) = BehaviorPreset::from_key(value) else {
                        let names: Vec<&str> =
                            BehaviorPreset::ALL.iter().map(|p| p.key()).collect();
                        return fail(format!(
                            "behavior must be one of {}, not `{value}`",
                            names.join(", ")
                        ));
                    };
                    spec.behavior = Some(preset);
                }
                _ => {
                    let Some(&name) = NUMBER_KEYS.iter().find(|k| **k == key) else {
                        return fail(format!(
                            "`{key}` is not a policy key (profile, behavior, {})",
                            NUMBER_KEYS.join(", ")
                        ));
                    };
                    let Ok(number) = value.parse::<u64>() else {
                        return fail(format!("{key} must be a whole number, not `{value}`"));
                    };
                    spec.numbers.push((name, number));
                }
            }
            seen.push(key.to_string());
        }
        spec.numbers.sort_by_key(|(key, _)| {
            NUMBER_KEYS
                .iter()
                .position(|k| k == key)
                .unwrap_or(usize::MAX)
        });
        Ok(spec)
    }

    /// The number set for `key`, if any.
    pub fn number(&self, key: &str) -> Option<u64> {
        self.numbers
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }
}

/// Written back as [`PolicySpec::parse`] reads it, in a fixed order.
impl fmt::Display for PolicySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(profile) = &self.profile {
            parts.push(format!("profile:{profile}"));
        }
        if let Some(behavior) = self.behavior {
            parts.push(format!("behavior:{}", behavior.key()));
        }
        for (key, value) in &self.numbers {
            parts.push(format!("{key}:{value}"));
        }
        f.write_str(&parts.join(","))
    }
}

/// What the server answers (`format=json`, the default).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub run: String,
    /// In the order asked (`a`, `b`, `c`).
    pub outcomes: Vec<Outcome>,
}

/// One policy's replay.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// `a`, `b` or `c`.
    pub key: String,
    /// The policy as asked, normalised.
    pub policy: String,
    /// The profile it started from (`demo`, or `ScaledObject ns/name` on a cluster).
    pub profile: String,
    pub summary: Summary,
    /// One row per second.
    pub rows: Vec<SimRow>,
}

/// The CSV header of `format=csv`: a policy column, then the replay's columns.
pub const CSV_HEADER: &str = "policy,seconds,queue_length,desired_replicas,pods_running,pods_pending,pods_starting,pods_terminating,nodes_ready,nodes_provisioning";

impl Comparison {
    /// Every outcome's rows, one after the other, under [`CSV_HEADER`].
    pub fn to_csv(&self) -> String {
        use std::fmt::Write as _;
        let rows: usize = self.outcomes.iter().map(|o| o.rows.len()).sum();
        let mut out = String::with_capacity(56 * (rows + 1));
        out.push_str(CSV_HEADER);
        out.push('\n');
        for outcome in &self.outcomes {
            for r in &outcome.rows {
                // Writing to a String cannot fail.
                let _ = writeln!(
                    out,
                    "{},{},{},{}",
                    outcome.key,
                    r.seconds,
                    r.queue_length,
                    r.model_columns()
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_reads_and_writes_in_kedas_words() {
        let spec =
            PolicySpec::parse("maxNodes:4, profile:aks,behavior:conservative,pollingInterval:5")
                .unwrap();
        assert_eq!(spec.profile.as_deref(), Some("aks"));
        assert_eq!(spec.behavior, Some(BehaviorPreset::Conservative));
        assert_eq!(spec.number("pollingInterval"), Some(5));
        assert_eq!(spec.number("maxNodes"), Some(4));
        let text = spec.to_string();
        assert_eq!(
            text,
            "profile:aks,behavior:conservative,pollingInterval:5,maxNodes:4"
        );
        assert_eq!(PolicySpec::parse(&text).unwrap(), spec);
        assert_eq!(PolicySpec::parse("").unwrap(), PolicySpec::default());
    }

    #[test]
    fn each_bad_policy_says_what_is_wrong() {
        for (text, says) in [
            ("profile:huge", "profile must be one of"),
            ("behavior:eager", "behavior must be one of"),
            ("replicas:3", "`replicas` is not a policy key"),
            (
                "pollingInterval:5,pollingInterval:6",
                "pollingInterval is given twice",
            ),
            ("queueLength:-1", "queueLength must be a whole number"),
            ("queueLength", "is not key:value"),
        ] {
            let error = PolicySpec::parse(text).unwrap_err();
            assert!(error.0.contains(says), "{text}: {error}");
        }
        let long = "pollingInterval:1,".repeat(40);
        assert!(PolicySpec::parse(&long).unwrap_err().0.contains("at most"));
    }

    #[test]
    fn presets_are_behaviors_or_none() {
        assert_eq!(BehaviorPreset::KedaDefault.behavior(), None);
        for preset in [BehaviorPreset::FastUpSlowDown, BehaviorPreset::Conservative] {
            let behavior = preset.behavior().unwrap();
            assert!(behavior.scale_up.is_some() && behavior.scale_down.is_some());
            assert_eq!(BehaviorPreset::from_key(preset.key()), Some(preset));
        }
    }

    proptest::proptest! {
        /// Whatever the text, parsing answers (a policy or a reason) and a parsed policy
        /// survives writing and reading again.
        #[test]
        fn any_text_parses_or_is_refused_and_round_trips(text in ".{0,80}") {
            if let Ok(spec) = PolicySpec::parse(&text) {
                proptest::prop_assert_eq!(PolicySpec::parse(&spec.to_string()).unwrap(), spec);
            }
        }
    }
}
