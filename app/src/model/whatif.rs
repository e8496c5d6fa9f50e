//! The what-if lab's forms and its address: pure, tested without a browser.
//!
//! A policy is edited as text (what the inputs hold) and travels as the query value
//! [`protocol::whatif::PolicySpec`] reads, so the page's address is the link to a comparison
//! and opening that link fills the forms again.

use protocol::whatif::{BehaviorPreset, PolicySpec, MAX_POLICIES, NUMBER_KEYS, POLICY_KEYS};

/// One policy as its inputs hold it. Empty text means "the starting profile's value".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyForm {
    /// One of [`protocol::whatif::PROFILES`].
    pub profile: String,
    /// A [`BehaviorPreset::key`], or empty to keep the profile's behavior.
    pub behavior: String,
    /// One text per [`NUMBER_KEYS`] entry, in that order.
    pub numbers: [String; NUMBER_KEYS.len()],
}

impl Default for PolicyForm {
    /// The policy in force, unchanged: the first column of a new comparison.
    fn default() -> PolicyForm {
        PolicyForm {
            profile: "cluster".into(),
            behavior: String::new(),
            numbers: Default::default(),
        }
    }
}

/// What each number input is called on the page, with KEDA's name beside it.
pub fn number_label(key: &str) -> &'static str {
    match key {
        "pollingInterval" => "Polling interval (s)",
        "cooldownPeriod" => "Cooldown (s)",
        "minReplicaCount" => "Min replicas",
        "maxReplicaCount" => "Max replicas",
        "queueLength" => "Messages per replica",
        "activationQueueLength" => "Activation (messages)",
        "minNodes" => "Min nodes",
        "maxNodes" => "Max nodes (pool size)",
        _ => "",
    }
}

impl PolicyForm {
    /// The form as the policy it describes, or what is wrong with it, naming the field.
    pub fn to_spec(&self) -> Result<PolicySpec, String> {
        let mut spec = PolicySpec {
            profile: (self.profile != "cluster").then(|| self.profile.clone()),
            behavior: None,
            numbers: Vec::new(),
        };
        if !self.behavior.is_empty() {
            spec.behavior = Some(
                BehaviorPreset::from_key(&self.behavior)
                    .ok_or_else(|| format!("unknown behavior {}", self.behavior))?,
            );
        }
        for (key, text) in NUMBER_KEYS.iter().zip(&self.numbers) {
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let value = text.parse::<u64>().map_err(|_| {
                format!(
                    "{} ({key}) must be a whole number, not “{text}”",
                    number_label(key)
                )
            })?;
            spec.numbers.push((key, value));
        }
        // Written and read back, so the page refuses what the server would.
        PolicySpec::parse(&spec.to_string()).map_err(|e| e.to_string())
    }

    /// The form showing `spec`.
    pub fn from_spec(spec: &PolicySpec) -> PolicyForm {
        PolicyForm {
            profile: spec.profile.clone().unwrap_or_else(|| "cluster".into()),
            behavior: spec
                .behavior
                .map(|b| b.key().to_string())
                .unwrap_or_default(),
            numbers: NUMBER_KEYS
                .map(|key| spec.number(key).map(|v| v.to_string()).unwrap_or_default()),
        }
    }
}

/// `a=…&b=…` for the policies in order (at most [`MAX_POLICIES`]). The values hold only
/// letters, digits, `-`, `:` and `,`, which a query carries as they are.
pub fn query(specs: &[PolicySpec]) -> String {
    POLICY_KEYS
        .iter()
        .zip(specs)
        .map(|(key, spec)| {
            let value = spec.to_string();
            // An empty policy is the policy in force, said explicitly so the key is kept.
            let value = if value.is_empty() {
                "profile:cluster".into()
            } else {
                value
            };
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The policies in an address's query (`get` reads one parameter), in order, skipping none
/// that is given; the first one that cannot be read is reported.
pub fn from_query(get: impl Fn(&str) -> Option<String>) -> Result<Vec<PolicySpec>, String> {
    let mut specs = Vec::new();
    for key in POLICY_KEYS.iter().take(MAX_POLICIES) {
        if let Some(text) = get(key) {
            specs.push(
                PolicySpec::parse(&text)
                    .map_err(|e| format!("policy {} in the address: {e}", key.to_uppercase()))?,
            );
        }
    }
    Ok(specs)
}

/// Seconds as `m:ss`, or a dash when there is none.
pub fn seconds(value: Option<u64>) -> String {
    match value {
        Some(s) => format!("{}:{:02}", s / 60, s % 60),
        None => "—".into(),
    }
}

/// Node-hours with three decimals: a demo run is minutes on a node or two, and two decimals
/// would show most of them as 0.00.
pub fn node_hours(value: f64) -> String {
    format!("{value:.3}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(profile: &str, behavior: &str, numbers: &[(&str, &str)]) -> PolicyForm {
        let mut form = PolicyForm {
            profile: profile.into(),
            behavior: behavior.into(),
            ..PolicyForm::default()
        };
        for (key, value) in numbers {
            let i = NUMBER_KEYS.iter().position(|k| k == key).unwrap();
            form.numbers[i] = (*value).into();
        }
        form
    }

    #[test]
    fn forms_become_an_address_and_the_address_fills_them_again() {
        let forms = [
            PolicyForm::default(),
            form("demo", "", &[("maxReplicaCount", "1")]),
            form(
                "aks",
                "conservative",
                &[("pollingInterval", " 5 "), ("maxNodes", "3")],
            ),
        ];
        let specs: Vec<PolicySpec> = forms.iter().map(|f| f.to_spec().unwrap()).collect();
        let address = query(&specs);
        assert_eq!(
            address,
            "a=profile:cluster&b=profile:demo,maxReplicaCount:1\
             &c=profile:aks,behavior:conservative,pollingInterval:5,maxNodes:3"
        );
        let params: std::collections::HashMap<String, String> = address
            .split('&')
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let back = from_query(|k| params.get(k).cloned()).unwrap();
        let refilled: Vec<PolicyForm> = back.iter().map(PolicyForm::from_spec).collect();
        let mut expected = forms.to_vec();
        expected[2].numbers[0] = "5".into();
        assert_eq!(refilled, expected);
    }

    #[test]
    fn a_bad_form_names_the_field() {
        let error = form("demo", "", &[("queueLength", "many")])
            .to_spec()
            .unwrap_err();
        assert!(
            error.contains("Messages per replica (queueLength)"),
            "{error}"
        );
        let error = form("demo", "eager", &[]).to_spec().unwrap_err();
        assert!(error.contains("eager"), "{error}");
        let error = from_query(|k| (k == "b").then(|| "profile:huge".to_string())).unwrap_err();
        assert!(error.starts_with("policy B in the address"), "{error}");
    }

    #[test]
    fn figures_read_as_on_a_slide() {
        assert_eq!(seconds(Some(65)), "1:05");
        assert_eq!(seconds(None), "—");
        assert_eq!(node_hours(0.4166), "0.417");
        assert_eq!(node_hours(0.005), "0.005");
    }
}
