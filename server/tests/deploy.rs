//! The manifests under `deploy/`, as `kubectl kustomize` renders each overlay, checked against
//! the code they must agree with: every object parses into its Kubernetes type, names refer to
//! objects that exist, KEDA scales the worker on the queue the code fills with the settings
//! `deploy/README.md` documents, the server's RBAC grants exactly what its cluster view reads,
//! and the settings given to the server are ones it reads. KEDA's objects are validated against
//! KEDA's own CRD schemas (vendored in `tests/fixtures/keda-2.20.1`); every pod against Pod
//! Security `restricted`; the NetworkPolicies, the operator key's Secret and the probes against
//! what the binaries need; and `deploy/infra/main.bicep` for its syntax (tree-sitter's Bicep
//! grammar), names, identities and role assignments.
//!
//! Needs `kubectl` (1.32 bundles Kustomize 5.5 and renders without a cluster); without it the
//! tests fail and say so, since an unchecked manifest is how a deployment breaks silently.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::{CommandFactory, Parser};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Namespace, PodTemplateSpec, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use serde::Deserialize;
use serde_json::Value;
use server::cluster::kube::{READS, VERBS};
use server::cluster::ClusterArgs;
use server::config::Config;

const NAMESPACE: &str = "scaleboard";
const OVERLAYS: [&str; 2] = ["aks", "connection-string"];

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("server/ is inside the repository")
        .to_path_buf()
}

/// One overlay's objects, each parsed into its type.
#[derive(Default)]
struct Rendered {
    overlay: String,
    namespaces: Vec<Namespace>,
    service_accounts: Vec<ServiceAccount>,
    config_maps: Vec<ConfigMap>,
    deployments: Vec<Deployment>,
    services: Vec<Service>,
    roles: Vec<Role>,
    role_bindings: Vec<RoleBinding>,
    cluster_roles: Vec<ClusterRole>,
    cluster_role_bindings: Vec<ClusterRoleBinding>,
    network_policies: Vec<NetworkPolicy>,
    /// KEDA's resources, which k8s-openapi does not cover.
    scaled_objects: Vec<Value>,
    trigger_authentications: Vec<Value>,
    /// Azure Monitor's PodMonitors (its own CRD group), also outside k8s-openapi.
    pod_monitors: Vec<Value>,
}

fn typed<T: serde::de::DeserializeOwned>(overlay: &str, object: Value) -> T {
    let name = object["metadata"]["name"].clone();
    serde_json::from_value(object).unwrap_or_else(|e| {
        panic!(
            "overlay {overlay}: {name} is not a valid {}: {e}",
            std::any::type_name::<T>()
        )
    })
}

fn render(overlay: &str) -> Rendered {
    let dir = repository().join("deploy/overlays").join(overlay);
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(&dir)
        .output()
        .unwrap_or_else(|e| {
            let why = if e.kind() == std::io::ErrorKind::NotFound {
                "kubectl is not installed (not found on PATH)".to_string()
            } else {
                e.to_string()
            };
            panic!(
                "cannot run `kubectl kustomize {}`: {why}. These checks need kubectl (1.32 or \
                 later, which bundles Kustomize): install it, e.g. from the Kubernetes apt \
                 repository, and run the tests again",
                dir.display()
            )
        });
    assert!(
        output.status.success(),
        "`kubectl kustomize {}` failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("kustomize prints UTF-8");
    let mut rendered = Rendered {
        overlay: overlay.into(),
        ..Rendered::default()
    };
    for document in serde_norway::Deserializer::from_str(&text) {
        let object = Value::deserialize(document)
            .unwrap_or_else(|e| panic!("overlay {overlay}: unreadable YAML: {e}"));
        let kind = object["kind"].as_str().unwrap_or_default().to_string();
        let api_version = object["apiVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match (api_version.as_str(), kind.as_str()) {
            ("v1", "Namespace") => rendered.namespaces.push(typed(overlay, object)),
            ("v1", "ServiceAccount") => rendered.service_accounts.push(typed(overlay, object)),
            ("v1", "ConfigMap") => rendered.config_maps.push(typed(overlay, object)),
            ("v1", "Service") => rendered.services.push(typed(overlay, object)),
            ("apps/v1", "Deployment") => rendered.deployments.push(typed(overlay, object)),
            ("rbac.authorization.k8s.io/v1", "Role") => rendered.roles.push(typed(overlay, object)),
            ("rbac.authorization.k8s.io/v1", "RoleBinding") => {
                rendered.role_bindings.push(typed(overlay, object))
            }
            ("rbac.authorization.k8s.io/v1", "ClusterRole") => {
                rendered.cluster_roles.push(typed(overlay, object))
            }
            ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
                rendered.cluster_role_bindings.push(typed(overlay, object))
            }
            ("networking.k8s.io/v1", "NetworkPolicy") => {
                rendered.network_policies.push(typed(overlay, object))
            }
            ("keda.sh/v1alpha1", "ScaledObject") => rendered.scaled_objects.push(object),
            ("keda.sh/v1alpha1", "TriggerAuthentication") => {
                rendered.trigger_authentications.push(object)
            }
            ("azmonitoring.coreos.com/v1", "PodMonitor") => rendered.pod_monitors.push(object),
            _ => panic!("overlay {overlay}: unexpected object {api_version} {kind}"),
        }
    }
    rendered
}

fn name<
    T: k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
>(
    object: &T,
) -> &str {
    object.metadata().name.as_deref().unwrap_or_default()
}

impl Rendered {
    fn deployment(&self, wanted: &str) -> &Deployment {
        self.deployments
            .iter()
            .find(|d| name(*d) == wanted)
            .unwrap_or_else(|| panic!("overlay {}: no Deployment {wanted}", self.overlay))
    }

    fn template<'a>(&self, deployment: &'a Deployment) -> &'a PodTemplateSpec {
        &deployment
            .spec
            .as_ref()
            .expect("a Deployment has a spec")
            .template
    }

    fn container<'a>(&self, deployment: &'a Deployment, wanted: &str) -> &'a Container {
        self.template(deployment)
            .spec
            .as_ref()
            .and_then(|spec| spec.containers.iter().find(|c| c.name == wanted))
            .unwrap_or_else(|| {
                panic!(
                    "overlay {}: no container {wanted} in Deployment {}",
                    self.overlay,
                    name(deployment)
                )
            })
    }

    /// The environment a container starts with: its `env` values (`None` when taken from a
    /// field or a Secret) over the ConfigMaps named in `envFrom`.
    fn environment(&self, container: &Container) -> BTreeMap<String, Option<String>> {
        let mut environment = BTreeMap::new();
        for source in container.env_from.iter().flatten() {
            let Some(reference) = &source.config_map_ref else {
                continue;
            };
            let config_map = self
                .config_maps
                .iter()
                .find(|c| name(*c) == reference.name)
                .unwrap_or_else(|| {
                    panic!(
                        "overlay {}: container {} reads ConfigMap {}, which is not rendered",
                        self.overlay, container.name, reference.name
                    )
                });
            for (key, value) in config_map.data.iter().flatten() {
                environment.insert(key.clone(), Some(value.clone()));
            }
        }
        for variable in container.env.iter().flatten() {
            environment.insert(variable.name.clone(), variable.value.clone());
        }
        environment
    }

    fn direct_env<'a>(
        &self,
        container: &'a Container,
        wanted: &str,
    ) -> &'a k8s_openapi::api::core::v1::EnvVar {
        container
            .env
            .iter()
            .flatten()
            .find(|v| v.name == wanted)
            .unwrap_or_else(|| {
                panic!(
                    "overlay {}: container {} has no env {wanted}",
                    self.overlay, container.name
                )
            })
    }
}

fn labels_match(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// `key=value,key=value` as a map.
fn equality_selector(text: &str) -> BTreeMap<String, String> {
    text.split(',')
        .filter(|clause| !clause.is_empty())
        .map(|clause| {
            let (k, v) = clause
                .split_once('=')
                .unwrap_or_else(|| panic!("{text:?} is not an equality selector"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// The KEDA settings table in `deploy/README.md`: setting → value.
fn documented_keda_settings() -> BTreeMap<String, String> {
    let path = repository().join("deploy/README.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let settings: BTreeMap<String, String> = text
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line
                .trim()
                .trim_matches('|')
                .split('|')
                .map(str::trim)
                .collect();
            let setting = cells.first()?.strip_prefix('`')?.strip_suffix('`')?;
            let value = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((setting.to_string(), value.to_string()))
        })
        .collect();
    for setting in [
        "queueLength",
        "activationQueueLength",
        "pollingInterval",
        "cooldownPeriod",
        "minReplicaCount",
        "maxReplicaCount",
    ] {
        assert!(
            settings.contains_key(setting),
            "{} does not document `{setting}` in its KEDA table",
            path.display()
        );
    }
    settings
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------

#[test]
fn every_overlay_renders_into_valid_objects_in_one_namespace() {
    for overlay in OVERLAYS {
        let rendered = render(overlay);
        assert_eq!(
            rendered.namespaces.iter().map(name).collect::<Vec<_>>(),
            [NAMESPACE],
            "overlay {overlay}"
        );
        let namespaced = rendered
            .service_accounts
            .iter()
            .map(|o| (name(o), o.metadata.namespace.as_deref()))
            .chain(
                rendered
                    .config_maps
                    .iter()
                    .map(|o| (name(o), o.metadata.namespace.as_deref())),
            )
            .chain(
                rendered
                    .deployments
                    .iter()
                    .map(|o| (name(o), o.metadata.namespace.as_deref())),
            )
            .chain(
                rendered
                    .services
                    .iter()
                    .map(|o| (name(o), o.metadata.namespace.as_deref())),
            )
            .chain(
                rendered
                    .roles
                    .iter()
                    .map(|o| (name(o), o.metadata.namespace.as_deref())),
            )
            .chain(
                rendered
                    .role_bindings
                    .iter()
                    .map(|o| (name(o), o.metadata.namespace.as_deref())),
            )
            .chain(
                rendered
                    .network_policies
                    .iter()
                    .map(|o| (name(o), o.metadata.namespace.as_deref())),
            )
            .chain(
                rendered
                    .scaled_objects
                    .iter()
                    .chain(&rendered.trigger_authentications)
                    .map(|o| {
                        (
                            o["metadata"]["name"].as_str().unwrap(),
                            o["metadata"]["namespace"].as_str(),
                        )
                    }),
            );
        for (object, namespace) in namespaced {
            assert_eq!(namespace, Some(NAMESPACE), "overlay {overlay}: {object}");
        }
        for deployment in &rendered.deployments {
            let spec = deployment.spec.as_ref().unwrap();
            let selector = spec.selector.match_labels.clone().unwrap_or_default();
            let labels = spec
                .template
                .metadata
                .as_ref()
                .and_then(|m| m.labels.clone())
                .unwrap_or_default();
            assert!(
                !selector.is_empty() && labels_match(&selector, &labels),
                "overlay {overlay}: Deployment {} does not select its own pods",
                name(deployment)
            );
            let account = spec
                .template
                .spec
                .as_ref()
                .and_then(|s| s.service_account_name.as_deref())
                .unwrap_or_else(|| {
                    panic!(
                        "overlay {overlay}: {} has no service account",
                        name(deployment)
                    )
                });
            assert!(
                rendered.service_accounts.iter().any(|a| name(a) == account),
                "overlay {overlay}: {} runs as ServiceAccount {account}, which is not rendered",
                name(deployment)
            );
            for container in &spec.template.spec.as_ref().unwrap().containers {
                rendered.environment(container);
            }
        }
    }
}

#[test]
fn keda_scales_the_worker_on_the_work_queue_as_documented() {
    let documented = documented_keda_settings();
    for overlay in OVERLAYS {
        let rendered = render(overlay);
        let [scaled_object] = rendered.scaled_objects.as_slice() else {
            panic!("overlay {overlay}: expected one ScaledObject");
        };
        let spec = &scaled_object["spec"];

        let target = &spec["scaleTargetRef"];
        assert_eq!(target["kind"], "Deployment", "overlay {overlay}");
        assert_eq!(target["apiVersion"], "apps/v1", "overlay {overlay}");
        let worker = rendered.deployment(target["name"].as_str().unwrap());
        rendered.container(worker, "worker");

        let triggers = spec["triggers"].as_array().unwrap();
        let [trigger] = triggers.as_slice() else {
            panic!(
                "overlay {overlay}: expected one trigger, found {}",
                triggers.len()
            );
        };
        assert_eq!(trigger["type"], "azure-queue", "overlay {overlay}");
        let metadata = &trigger["metadata"];
        assert_eq!(
            metadata["queueName"],
            storage::names::WORK_QUEUE,
            "overlay {overlay}: KEDA must watch the queue the server fills (storage::names)"
        );
        let authentication = trigger["authenticationRef"]["name"].as_str().unwrap();
        assert!(
            rendered
                .trigger_authentications
                .iter()
                .any(|t| t["metadata"]["name"] == authentication),
            "overlay {overlay}: TriggerAuthentication {authentication} is not rendered"
        );

        for (setting, value) in &documented {
            let actual = match setting.as_str() {
                "queueLength" | "activationQueueLength" => &metadata[setting],
                _ => &spec[setting],
            };
            assert_eq!(
                text(actual),
                *value,
                "overlay {overlay}: {setting} differs from deploy/README.md"
            );
        }
    }
}

#[test]
fn the_connection_string_reaches_keda_and_both_binaries_from_one_secret() {
    let rendered = render("connection-string");
    let [authentication] = rendered.trigger_authentications.as_slice() else {
        panic!("expected one TriggerAuthentication");
    };
    let [reference] = authentication["spec"]["secretTargetRef"]
        .as_array()
        .unwrap()
        .as_slice()
    else {
        panic!("expected one secretTargetRef");
    };
    assert_eq!(
        reference["parameter"], "connection",
        "the azure-queue scaler's parameter"
    );
    for (deployment, container) in [
        ("scaleboard-server", "server"),
        ("scaleboard-worker", "worker"),
    ] {
        let container = rendered.container(rendered.deployment(deployment), container);
        let variable = rendered.direct_env(container, "AZURE_STORAGE_CONNECTION_STRING");
        let secret = variable
            .value_from
            .as_ref()
            .and_then(|from| from.secret_key_ref.as_ref())
            .expect("the connection string comes from a Secret");
        assert_eq!(reference["name"], secret.name.as_str(), "{deployment}");
        assert_eq!(reference["key"], secret.key.as_str(), "{deployment}");
    }
}

/// The rules of every Role and ClusterRole bound to `account`, with where they apply.
fn rules_of(rendered: &Rendered, account: &str) -> Vec<(bool, PolicyRule)> {
    let subject_is_account = |subjects: &Option<Vec<k8s_openapi::api::rbac::v1::Subject>>| {
        subjects.iter().flatten().any(|s| {
            s.kind == "ServiceAccount"
                && s.name == account
                && s.namespace.as_deref().unwrap_or(NAMESPACE) == NAMESPACE
        })
    };
    let mut rules = Vec::new();
    for binding in rendered
        .role_bindings
        .iter()
        .filter(|b| subject_is_account(&b.subjects))
    {
        let rules_of_role = match binding.role_ref.kind.as_str() {
            "Role" => rendered
                .roles
                .iter()
                .find(|r| name(*r) == binding.role_ref.name)
                .and_then(|r| r.rules.clone()),
            _ => rendered
                .cluster_roles
                .iter()
                .find(|r| name(*r) == binding.role_ref.name)
                .and_then(|r| r.rules.clone()),
        }
        .unwrap_or_else(|| panic!("RoleBinding {} refers to a missing role", name(binding)));
        rules.extend(rules_of_role.into_iter().map(|rule| (false, rule)));
    }
    for binding in rendered
        .cluster_role_bindings
        .iter()
        .filter(|b| subject_is_account(&b.subjects))
    {
        for subject in binding.subjects.iter().flatten() {
            assert_eq!(
                subject.namespace.as_deref(),
                Some(NAMESPACE),
                "ClusterRoleBinding {} needs the service account's namespace",
                name(binding)
            );
        }
        let role = rendered
            .cluster_roles
            .iter()
            .find(|r| name(*r) == binding.role_ref.name)
            .unwrap_or_else(|| {
                panic!(
                    "ClusterRoleBinding {} refers to a missing role",
                    name(binding)
                )
            });
        rules.extend(
            role.rules
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|rule| (true, rule)),
        );
    }
    rules
}

#[test]
fn the_server_may_read_what_its_cluster_view_watches_and_nothing_else() {
    for overlay in OVERLAYS {
        let rendered = render(overlay);
        let server = rendered.deployment("scaleboard-server");
        let account = rendered
            .template(server)
            .spec
            .as_ref()
            .and_then(|s| s.service_account_name.clone())
            .unwrap();
        let mut granted = BTreeSet::new();
        for (cluster_wide, rule) in rules_of(&rendered, &account) {
            assert!(
                rule.non_resource_urls.is_none() && rule.resource_names.is_none(),
                "overlay {overlay}: unexpected rule {rule:?}"
            );
            for group in rule.api_groups.iter().flatten() {
                for resource in rule.resources.iter().flatten() {
                    for verb in &rule.verbs {
                        assert!(
                            ![group, resource, verb].contains(&&"*".to_string()),
                            "overlay {overlay}: wildcard in {rule:?}"
                        );
                        granted.insert((
                            cluster_wide,
                            group.clone(),
                            resource.clone(),
                            verb.clone(),
                        ));
                    }
                }
            }
        }
        let needed: BTreeSet<(bool, String, String, String)> = READS
            .iter()
            .flat_map(|(group, resource, cluster_wide)| {
                VERBS.iter().map(move |verb| {
                    (
                        *cluster_wide,
                        group.to_string(),
                        resource.to_string(),
                        verb.to_string(),
                    )
                })
            })
            .collect();
        let extra: Vec<_> = granted.difference(&needed).collect();
        let missing: Vec<_> = needed.difference(&granted).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "overlay {overlay}: the server's RBAC differs from what the kube view reads \
             ((cluster-wide, group, resource, verb)):\n granted but unused: {extra:?}\n needed but \
             not granted: {missing:?}"
        );
        let worker = rendered.deployment("scaleboard-worker");
        assert!(
            rules_of(&rendered, "scaleboard-worker").is_empty(),
            "overlay {overlay}: the worker never calls the Kubernetes API"
        );
        assert_eq!(
            rendered
                .template(worker)
                .spec
                .as_ref()
                .and_then(|s| s.automount_service_account_token),
            Some(false),
            "overlay {overlay}: the worker needs no API token"
        );
    }
}

#[test]
fn the_worker_stops_within_its_termination_grace() {
    for overlay in OVERLAYS {
        let rendered = render(overlay);
        let worker = rendered.deployment("scaleboard-worker");
        let container = rendered.container(worker, "worker");
        let grace: i64 = rendered
            .direct_env(container, "SCALEBOARD_WORKER_GRACE_SECONDS")
            .value
            .as_deref()
            .and_then(|v| v.parse().ok())
            .expect("SCALEBOARD_WORKER_GRACE_SECONDS is a number of seconds");
        let termination = rendered
            .template(worker)
            .spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds)
            .unwrap_or(30);
        assert!(
            termination > grace,
            "overlay {overlay}: terminationGracePeriodSeconds ({termination}) must exceed \
             SCALEBOARD_WORKER_GRACE_SECONDS ({grace}), or the kubelet kills a worker still \
             releasing its message"
        );
    }
}

/// Two servers may overlap during a rollout (each run has one owner, its blob lease), so the
/// Deployment keeps the old pod until the new one is ready: the dashboard never goes dark.
#[test]
fn the_server_rolls_out_with_no_gap() {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    for overlay in OVERLAYS {
        let rendered = render(overlay);
        let server = rendered.deployment("scaleboard-server");
        let strategy = server
            .spec
            .as_ref()
            .and_then(|s| s.strategy.as_ref())
            .expect("a strategy");
        assert_eq!(
            strategy.type_.as_deref(),
            Some("RollingUpdate"),
            "{overlay}"
        );
        let rolling = strategy.rolling_update.as_ref().expect("rollingUpdate");
        assert_eq!(
            rolling.max_unavailable,
            Some(IntOrString::Int(0)),
            "{overlay}"
        );
        assert_eq!(rolling.max_surge, Some(IntOrString::Int(1)), "{overlay}");
        let container = rendered.container(server, "server");
        assert!(
            container.readiness_probe.is_some(),
            "overlay {overlay}: without a readiness probe the old pod goes before the new one serves"
        );
    }
}

/// The environment variable names of the server's flags, as clap reads them.
fn server_env_names() -> BTreeSet<String> {
    Config::command()
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|env| env.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn the_server_is_given_settings_it_reads() {
    let known = server_env_names();
    let settings = [
        "SCALEBOARD_CLUSTER",
        "SCALEBOARD_NAMESPACE",
        "SCALEBOARD_POD_SELECTOR",
        "SCALEBOARD_NODE_SELECTOR",
        "SCALEBOARD_SCALED_OBJECT",
        "SCALEBOARD_ADDR",
        "SCALEBOARD_METRICS_ADDR",
        "LEPTOS_SITE_ROOT",
    ];
    for setting in settings {
        assert!(
            known.contains(setting),
            "the server has no flag reading {setting}"
        );
    }
    for overlay in OVERLAYS {
        let rendered = render(overlay);
        let server = rendered.deployment("scaleboard-server");
        let container = rendered.container(server, "server");
        let environment = rendered.environment(container);
        for setting in settings {
            assert!(
                environment.contains_key(setting),
                "overlay {overlay}: the server is not given {setting}"
            );
        }
        // What is set on the server container alone must be read by the server (the
        // ConfigMap is shared with the worker, so it may hold the worker's settings too).
        for variable in container.env.iter().flatten() {
            assert!(
                known.contains(&variable.name),
                "overlay {overlay}: the server container sets {}, which the server does not read",
                variable.name
            );
        }

        let value = |key: &str| {
            environment[key]
                .clone()
                .unwrap_or_else(|| panic!("overlay {overlay}: {key} should be a literal value"))
        };
        // The namespace is the server's own, from the downward API.
        let namespace = rendered.direct_env(container, "SCALEBOARD_NAMESPACE");
        assert_eq!(
            namespace
                .value_from
                .as_ref()
                .and_then(|from| from.field_ref.as_ref())
                .map(|field| field.field_path.as_str()),
            Some("metadata.namespace"),
            "overlay {overlay}"
        );
        value("SCALEBOARD_ADDR")
            .parse::<std::net::SocketAddr>()
            .expect("SCALEBOARD_ADDR is an address");

        // The cluster settings parse, and point at the objects rendered here.
        #[derive(Parser)]
        struct Flags {
            #[command(flatten)]
            cluster: ClusterArgs,
        }
        let cluster = Flags::try_parse_from([
            "scaleboard".to_string(),
            format!("--cluster={}", value("SCALEBOARD_CLUSTER")),
            format!("--selector={}", value("SCALEBOARD_POD_SELECTOR")),
            format!("--node-selector={}", value("SCALEBOARD_NODE_SELECTOR")),
            format!("--scaled-object={}", value("SCALEBOARD_SCALED_OBJECT")),
        ])
        .unwrap_or_else(|e| panic!("overlay {overlay}: the server rejects its settings: {e}"))
        .cluster;
        assert_eq!(
            cluster.kind,
            server::cluster::ClusterKind::Kube,
            "overlay {overlay}"
        );
        assert!(
            rendered
                .scaled_objects
                .iter()
                .any(|s| s["metadata"]["name"] == cluster.scaled_object.as_str()),
            "overlay {overlay}: SCALEBOARD_SCALED_OBJECT names no rendered ScaledObject"
        );
        let worker = rendered.deployment("scaleboard-worker");
        let worker_labels = rendered
            .template(worker)
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        let server_labels = rendered
            .template(server)
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        let pods = equality_selector(&cluster.pod_selector);
        assert!(
            labels_match(&pods, &worker_labels) && !labels_match(&pods, &server_labels),
            "overlay {overlay}: SCALEBOARD_POD_SELECTOR must select the worker pods only"
        );
        let node_selector = rendered
            .template(worker)
            .spec
            .as_ref()
            .and_then(|s| s.node_selector.clone())
            .unwrap_or_default();
        assert!(
            labels_match(&equality_selector(&cluster.node_selector), &node_selector),
            "overlay {overlay}: SCALEBOARD_NODE_SELECTOR must count the nodes the workers run on"
        );
    }
}

#[test]
fn the_service_reaches_the_server() {
    for overlay in OVERLAYS {
        let rendered = render(overlay);
        let server = rendered.deployment("scaleboard-server");
        let [service] = rendered.services.as_slice() else {
            panic!("overlay {overlay}: expected one Service");
        };
        let spec = service.spec.as_ref().unwrap();
        let labels = rendered
            .template(server)
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        assert!(
            labels_match(spec.selector.as_ref().unwrap(), &labels),
            "overlay {overlay}: the Service does not select the server's pods"
        );
        let container = rendered.container(server, "server");
        let addr: std::net::SocketAddr = rendered
            .direct_env(container, "SCALEBOARD_ADDR")
            .value
            .as_deref()
            .unwrap()
            .parse()
            .unwrap();
        for port in spec.ports.iter().flatten() {
            let target = match &port.target_port {
                Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(name)) => {
                    container
                        .ports
                        .iter()
                        .flatten()
                        .find(|p| p.name.as_deref() == Some(name.as_str()))
                        .unwrap_or_else(|| {
                            panic!("overlay {overlay}: no container port named {name}")
                        })
                        .container_port
                }
                Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(number)) => {
                    *number
                }
                None => port.port,
            };
            assert_eq!(
                target,
                i32::from(addr.port()),
                "overlay {overlay}: the Service sends traffic where the server does not listen"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// KEDA's own schemas

/// The KEDA release whose CRDs are vendored as test data (with their licence and provenance).
const KEDA_CRDS: &str = "server/tests/fixtures/keda-2.20.1";

/// The API server's checks of a custom resource against its CRD's structural schema, for the
/// subset of OpenAPI v3 that KEDA's CRDs use. Stricter than the API server where that catches
/// a mistake earlier: an unknown field is an error (the API server would drop it silently, or
/// reject it only under strict field validation), and a keyword this module does not know makes
/// the schema itself unusable rather than being skipped, so a newer CRD cannot pass unchecked.
/// CEL rules (`x-kubernetes-validations`) are not evaluated; the tests check KEDA's one rule
/// (min ≤ max replicas) by hand.
mod structural {
    use serde_json::Value;

    /// Keywords that describe, or that the API server evaluates elsewhere (list and map types
    /// for server-side apply, CEL rules, defaults applied on write).
    const ANNOTATIONS: [&str; 7] = [
        "description",
        "default",
        "example",
        "x-kubernetes-list-type",
        "x-kubernetes-list-map-keys",
        "x-kubernetes-map-type",
        "x-kubernetes-validations",
    ];
    const CHECKED: [&str; 19] = [
        "type",
        "properties",
        "additionalProperties",
        "required",
        "items",
        "enum",
        "format",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "pattern",
        "anyOf",
        "nullable",
        "x-kubernetes-int-or-string",
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-embedded-resource",
    ];

    /// Every violation of `schema` by `value`, each as `path: what is wrong`; empty when valid.
    pub fn validate(schema: &Value, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        check(schema, value, "", &mut errors);
        errors
    }

    fn at(path: &str) -> &str {
        if path.is_empty() {
            "<root>"
        } else {
            path
        }
    }

    fn kind(value: &Value) -> &'static str {
        match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_f64() => "number",
            Value::Number(_) => "integer",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    fn flag(schema: &Value, keyword: &str) -> bool {
        schema[keyword].as_bool().unwrap_or(false)
    }

    fn check(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
        let keywords = schema
            .as_object()
            .unwrap_or_else(|| panic!("schema at {} is not an object", at(path)));
        for keyword in keywords.keys() {
            assert!(
                CHECKED.contains(&keyword.as_str()) || ANNOTATIONS.contains(&keyword.as_str()),
                "the schema at {} uses `{keyword}`, which this validator does not implement: \
                 extend it before trusting its verdict",
                at(path)
            );
        }
        assert!(
            !flag(schema, "x-kubernetes-embedded-resource"),
            "the schema at {} embeds a resource, which this validator does not implement",
            at(path)
        );
        if value.is_null() {
            if !flag(schema, "nullable") {
                errors.push(format!("{}: must not be null", at(path)));
            }
            return;
        }

        // Type. `x-kubernetes-int-or-string` stands in for `type` (with an `anyOf` that says
        // the same).
        let int_or_string = flag(schema, "x-kubernetes-int-or-string");
        let actual = kind(value);
        if int_or_string {
            if !matches!(actual, "integer" | "string") {
                errors.push(format!(
                    "{}: must be an integer or a string, not {actual}",
                    at(path)
                ));
                return;
            }
        } else if let Some(wanted) = schema.get("type") {
            let wanted = wanted.as_str().expect("`type` is a string");
            let fits = actual == wanted || (wanted == "number" && actual == "integer");
            if !fits {
                errors.push(format!("{}: must be {wanted}, not {actual}", at(path)));
                return;
            }
        }

        if let Some(options) = schema.get("enum").and_then(Value::as_array) {
            if !options.contains(value) {
                errors.push(format!("{}: {value} is not one of {options:?}", at(path)));
            }
        }
        if let Some(branches) = schema.get("anyOf").and_then(Value::as_array) {
            let fits = branches.iter().any(|branch| {
                let mut scratch = Vec::new();
                check(branch, value, path, &mut scratch);
                scratch.is_empty()
            });
            if !fits {
                errors.push(format!("{}: matches none of anyOf", at(path)));
            }
        }

        match value {
            Value::Number(number) => {
                if let Some(format) = schema.get("format").and_then(Value::as_str) {
                    let range = match format {
                        "int32" => i64::from(i32::MIN)..=i64::from(i32::MAX),
                        "int64" => i64::MIN..=i64::MAX,
                        other => panic!("the schema at {} has unknown format {other}", at(path)),
                    };
                    if !number.as_i64().is_some_and(|n| range.contains(&n)) {
                        errors.push(format!("{}: {number} is not an {format}", at(path)));
                    }
                }
                let n = number.as_f64().expect("a JSON number");
                if let Some(minimum) = schema.get("minimum").and_then(Value::as_f64) {
                    if n < minimum {
                        errors.push(format!("{}: {number} is below {minimum}", at(path)));
                    }
                }
                if let Some(maximum) = schema.get("maximum").and_then(Value::as_f64) {
                    if n > maximum {
                        errors.push(format!("{}: {number} is above {maximum}", at(path)));
                    }
                }
            }
            Value::String(text) => {
                let length = text.chars().count() as u64;
                if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
                    if length < min {
                        errors.push(format!("{}: shorter than {min} characters", at(path)));
                    }
                }
                if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
                    if length > max {
                        errors.push(format!("{}: longer than {max} characters", at(path)));
                    }
                }
                if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
                    let regex = regex::Regex::new(pattern).unwrap_or_else(|e| {
                        panic!("the schema at {} has pattern {pattern:?}: {e}", at(path))
                    });
                    if !regex.is_match(text) {
                        errors.push(format!("{}: {text:?} does not match {pattern}", at(path)));
                    }
                }
                match schema.get("format").and_then(Value::as_str) {
                    None | Some("int32" | "int64") => {}
                    Some("date-time") => {
                        let rfc3339 = regex::Regex::new(
                            r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
                        )
                        .unwrap();
                        if !rfc3339.is_match(text) {
                            errors.push(format!("{}: {text:?} is not a date-time", at(path)));
                        }
                    }
                    Some(other) => {
                        panic!("the schema at {} has unknown format {other}", at(path))
                    }
                }
            }
            Value::Array(elements) => {
                let length = elements.len() as u64;
                if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
                    if length < min {
                        errors.push(format!("{}: fewer than {min} items", at(path)));
                    }
                }
                if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
                    if length > max {
                        errors.push(format!("{}: more than {max} items", at(path)));
                    }
                }
                if let Some(items) = schema.get("items") {
                    for (index, element) in elements.iter().enumerate() {
                        check(items, element, &format!("{path}[{index}]"), errors);
                    }
                }
            }
            Value::Object(fields) => {
                for required in schema
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let required = required.as_str().expect("`required` lists names");
                    if !fields.contains_key(required) {
                        errors.push(format!("{}: missing required field {required}", at(path)));
                    }
                }
                let properties = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties");
                let open = flag(schema, "x-kubernetes-preserve-unknown-fields")
                    || additional == Some(&Value::Bool(true))
                    // The root's `metadata` is an ObjectMeta, which the API server checks itself
                    // (a CRD may not describe it beyond `type: object`).
                    || path == ".metadata";
                for (field, field_value) in fields {
                    let field_path = format!("{path}.{field}");
                    match (properties.and_then(|p| p.get(field)), additional) {
                        (Some(property), _) => check(property, field_value, &field_path, errors),
                        (None, Some(additional)) if additional.is_object() => {
                            check(additional, field_value, &field_path, errors)
                        }
                        _ if open => {}
                        _ => errors.push(format!(
                            "{field_path}: unknown field (the schema allows {})",
                            properties
                                .map(|p| p.keys().cloned().collect::<Vec<_>>().join(", "))
                                .unwrap_or_else(|| "no fields".into())
                        )),
                    }
                }
            }
            Value::Bool(_) | Value::Null => {}
        }
    }
}

/// The `openAPIV3Schema` of the served version `version` in one of the vendored CRDs.
fn keda_schema(file: &str, kind: &str, version: &str) -> Value {
    let path = repository().join(KEDA_CRDS).join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let crd: Value = serde_norway::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()));
    assert_eq!(
        crd["kind"],
        "CustomResourceDefinition",
        "{}",
        path.display()
    );
    assert_eq!(crd["spec"]["names"]["kind"], kind, "{}", path.display());
    crd["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["name"] == version && v["served"] == true)
        .map(|v| v["schema"]["openAPIV3Schema"].clone())
        .unwrap_or_else(|| panic!("{} serves no version {version}", path.display()))
}

/// The schema a KEDA object must meet: its kind's CRD at the version its `apiVersion` names.
fn keda_schema_for(object: &Value) -> Value {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let version = api_version
        .strip_prefix("keda.sh/")
        .unwrap_or_else(|| panic!("{api_version} is not in KEDA's API group"));
    match object["kind"].as_str().unwrap_or_default() {
        "ScaledObject" => keda_schema("keda.sh_scaledobjects.yaml", "ScaledObject", version),
        "TriggerAuthentication" => keda_schema(
            "keda.sh_triggerauthentications.yaml",
            "TriggerAuthentication",
            version,
        ),
        other => panic!("no vendored CRD for KEDA kind {other}"),
    }
}

#[test]
fn keda_objects_meet_kedas_own_crd_schemas() {
    for overlay in OVERLAYS {
        let rendered = render(overlay);
        let objects: Vec<&Value> = rendered
            .scaled_objects
            .iter()
            .chain(&rendered.trigger_authentications)
            .collect();
        assert!(
            !rendered.scaled_objects.is_empty() && !rendered.trigger_authentications.is_empty(),
            "overlay {overlay}: expected a ScaledObject and a TriggerAuthentication"
        );
        for object in objects {
            let errors = structural::validate(&keda_schema_for(object), object);
            assert!(
                errors.is_empty(),
                "overlay {overlay}: {} {} does not meet KEDA 2.20.1's schema:\n  {}",
                object["kind"],
                object["metadata"]["name"],
                errors.join("\n  ")
            );
        }
        // KEDA's CEL rule on the ScaledObject, which the validator does not evaluate.
        for scaled_object in &rendered.scaled_objects {
            let spec = &scaled_object["spec"];
            let min = spec["minReplicaCount"].as_i64().unwrap_or(0);
            let max = spec["maxReplicaCount"].as_i64().unwrap_or(100);
            assert!(
                min <= max,
                "overlay {overlay}: minReplicaCount > maxReplicaCount"
            );
        }
    }
}

/// The aks overlay's ScaledObject, to break on purpose.
fn a_valid_scaled_object() -> Value {
    let rendered = render("aks");
    let object = rendered.scaled_objects[0].clone();
    assert_eq!(
        structural::validate(&keda_schema_for(&object), &object),
        Vec::<String>::new()
    );
    object
}

#[test]
fn a_misspelled_keda_field_fails_validation_naming_its_path() {
    let mut object = a_valid_scaled_object();
    let spec = object["spec"].as_object_mut().unwrap();
    let interval = spec.remove("pollingInterval").unwrap();
    spec.insert("pollingIntervall".into(), interval);
    let errors = structural::validate(&keda_schema_for(&object), &object);
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with(".spec.pollingIntervall: unknown field")),
        "{errors:?}"
    );
}

#[test]
fn a_string_for_a_keda_integer_fails_validation_naming_its_path() {
    let mut object = a_valid_scaled_object();
    object["spec"]["maxReplicaCount"] = Value::from("20");
    let errors = structural::validate(&keda_schema_for(&object), &object);
    assert_eq!(
        errors,
        [".spec.maxReplicaCount: must be integer, not string"]
    );
}

#[test]
fn the_structural_validator_rejects_what_the_api_server_would() {
    let schema: Value = serde_json::json!({
        "type": "object",
        "required": ["spec"],
        "properties": {
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "replicas": {"type": "integer", "format": "int32", "minimum": 0},
                    "mode": {"type": "string", "enum": ["a", "b"]},
                    "tolerance": {
                        "anyOf": [{"type": "integer"}, {"type": "string"}],
                        "x-kubernetes-int-or-string": true,
                        "pattern": "^[0-9]+m?$"
                    },
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "list": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                    "maybe": {"type": "string", "nullable": true}
                }
            }
        }
    });
    let valid = serde_json::json!({
        "metadata": {"name": "x", "labels": {"a": "b"}},
        "spec": {
            "name": "n", "replicas": 3, "mode": "a", "tolerance": "5m", "labels": {"k": "v"},
            "free": {"anything": [1, {"goes": true}]}, "list": ["x"], "maybe": null
        }
    });
    assert_eq!(structural::validate(&schema, &valid), Vec::<String>::new());
    let mut int_tolerance = valid.clone();
    int_tolerance["spec"]["tolerance"] = Value::from(5);
    assert_eq!(
        structural::validate(&schema, &int_tolerance),
        Vec::<String>::new()
    );

    let cases: [(&str, Value, &str); 11] = [
        (
            "spec.nmae",
            serde_json::json!({"name": "n", "nmae": "n"}),
            ".spec.nmae: unknown field",
        ),
        (
            "missing",
            serde_json::json!({}),
            ".spec: missing required field name",
        ),
        (
            "wrong type",
            serde_json::json!({"name": 1}),
            ".spec.name: must be string, not integer",
        ),
        (
            "not int32",
            serde_json::json!({"name": "n", "replicas": 3_000_000_000_i64}),
            ".spec.replicas: 3000000000 is not an int32",
        ),
        (
            "fraction",
            serde_json::json!({"name": "n", "replicas": 1.5}),
            ".spec.replicas: must be integer, not number",
        ),
        (
            "minimum",
            serde_json::json!({"name": "n", "replicas": -1}),
            ".spec.replicas: -1 is below 0",
        ),
        (
            "enum",
            serde_json::json!({"name": "n", "mode": "c"}),
            ".spec.mode: \"c\" is not one of",
        ),
        (
            "int-or-string",
            serde_json::json!({"name": "n", "tolerance": true}),
            ".spec.tolerance: must be an integer or a string",
        ),
        (
            "pattern",
            serde_json::json!({"name": "n", "tolerance": "5x"}),
            ".spec.tolerance: \"5x\" does not match",
        ),
        (
            "map values",
            serde_json::json!({"name": "n", "labels": {"k": 1}}),
            ".spec.labels.k: must be string",
        ),
        (
            "items",
            serde_json::json!({"name": "n", "list": [1]}),
            ".spec.list[0]: must be string",
        ),
    ];
    for (case, spec, expected) in cases {
        let errors = structural::validate(&schema, &serde_json::json!({ "spec": spec }));
        assert!(
            errors.iter().any(|e| e.starts_with(expected)),
            "{case}: expected an error starting {expected:?}, got {errors:?}"
        );
    }
    let errors = structural::validate(&schema, &serde_json::json!({"spec": {"name": null}}));
    assert_eq!(errors, [".spec.name: must not be null"]);
    let errors = structural::validate(
        &schema,
        &serde_json::json!({"spec": {"name": "n", "list": []}}),
    );
    assert_eq!(errors, [".spec.list: fewer than 1 items"]);
    let errors = structural::validate(&schema, &serde_json::json!({"kind": "X"}));
    assert!(
        errors.contains(&"<root>: missing required field spec".to_string()),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.starts_with(".kind: unknown field")),
        "{errors:?}"
    );
}

#[test]
#[should_panic(expected = "does not implement")]
fn the_structural_validator_refuses_a_keyword_it_does_not_know() {
    let schema = serde_json::json!({"type": "object", "oneOf": [{"required": ["a"]}]});
    structural::validate(&schema, &serde_json::json!({}));
}

// ---------------------------------------------------------------------------------------------
// Hardening (issue 12): operator key, probes, Pod Security, NetworkPolicy

#[test]
fn the_operator_key_comes_from_a_secret_the_pod_cannot_start_without() {
    assert!(
        server_env_names().contains("SCALEBOARD_API_KEY"),
        "the server no longer reads SCALEBOARD_API_KEY"
    );
    for overlay in OVERLAYS {
        let rendered = render(overlay);
        let server = rendered.deployment("scaleboard-server");
        let container = rendered.container(server, "server");
        let key = rendered.direct_env(container, "SCALEBOARD_API_KEY");
        assert!(key.value.is_none(), "overlay {overlay}: a literal key");
        let secret = key
            .value_from
            .as_ref()
            .and_then(|from| from.secret_key_ref.as_ref())
            .unwrap_or_else(|| panic!("overlay {overlay}: the key is not from a Secret"));
        assert_eq!(
            (secret.name.as_str(), secret.key.as_str(), secret.optional),
            ("scaleboard-operator", "api-key", Some(false)),
            "overlay {overlay}: the server must not start without its key"
        );
        for config_map in &rendered.config_maps {
            assert!(
                !config_map
                    .data
                    .iter()
                    .flatten()
                    .any(|(k, _)| k == "SCALEBOARD_API_KEY"),
                "overlay {overlay}: the key must not be in ConfigMap {}",
                name(config_map)
            );
        }
    }
    // The walk-through creates the Secret the manifests name.
    let guide = std::fs::read_to_string(repository().join("docs/deploy-aks.md")).unwrap();
    assert!(
        guide.contains("create secret generic scaleboard-operator")
            && guide.contains("--from-literal=api-key="),
        "docs/deploy-aks.md does not show how to create Secret scaleboard-operator (key api-key)"
    );
}

#[test]
fn storage_outages_keep_the_server_in_its_service() {
    for overlay in OVERLAYS {
        let rendered = render(overlay);
        let server = rendered.deployment("scaleboard-server");
        let container = rendered.container(server, "server");
        for (probe, which) in [
            (&container.readiness_probe, "readiness"),
            (&container.liveness_probe, "liveness"),
        ] {
            let path = probe
                .as_ref()
                .and_then(|p| p.http_get.as_ref())
                .and_then(|get| get.path.as_deref());
            // /readyz fails while storage is down, which would hide the dashboard and its
            // "storage unreachable" badge, or restart a server that is fine.
            assert_eq!(
                path,
                Some("/healthz"),
                "overlay {overlay}: the server's {which} probe must follow the process"
            );
        }
    }
}

/// Where a Pod Security Standard `restricted` check failed, for the message.
fn restricted_violations(template: &PodTemplateSpec) -> Vec<String> {
    let spec = template.spec.as_ref().expect("a pod template has a spec");
    let pod = spec.security_context.clone().unwrap_or_default();
    let mut violations = Vec::new();
    let mut fail = |what: String| violations.push(what);

    // Baseline.
    for (flag, set) in [
        ("hostNetwork", spec.host_network),
        ("hostPID", spec.host_pid),
        ("hostIPC", spec.host_ipc),
    ] {
        if set == Some(true) {
            fail(format!("pod: {flag}"));
        }
    }
    if pod.sysctls.as_ref().is_some_and(|s| !s.is_empty()) {
        fail("pod: sysctls".into());
    }
    if pod
        .se_linux_options
        .as_ref()
        .is_some_and(|o| o.user.is_some() || o.role.is_some())
    {
        fail("pod: seLinuxOptions user/role".into());
    }
    // Restricted: only these volume types.
    for volume in spec.volumes.iter().flatten() {
        let allowed = volume.config_map.is_some()
            || volume.csi.is_some()
            || volume.downward_api.is_some()
            || volume.empty_dir.is_some()
            || volume.ephemeral.is_some()
            || volume.persistent_volume_claim.is_some()
            || volume.projected.is_some()
            || volume.secret.is_some();
        if !allowed {
            fail(format!("volume {}: type not allowed", volume.name));
        }
    }
    let pod_non_root = pod.run_as_non_root == Some(true);
    let pod_seccomp = pod.seccomp_profile.as_ref().map(|p| p.type_.as_str());
    if pod.run_as_user == Some(0) {
        fail("pod: runAsUser 0".into());
    }
    if pod_seccomp == Some("Unconfined") {
        fail("pod: seccomp Unconfined".into());
    }
    let containers = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten());
    for container in containers {
        let c = container.security_context.clone().unwrap_or_default();
        let who = format!("container {}", container.name);
        if c.privileged == Some(true) {
            fail(format!("{who}: privileged"));
        }
        if c.allow_privilege_escalation != Some(false) {
            fail(format!("{who}: allowPrivilegeEscalation is not false"));
        }
        if !(c.run_as_non_root == Some(true) || pod_non_root && c.run_as_non_root.is_none()) {
            fail(format!("{who}: runAsNonRoot is not true"));
        }
        if c.run_as_user == Some(0) {
            fail(format!("{who}: runAsUser 0"));
        }
        let seccomp = c
            .seccomp_profile
            .as_ref()
            .map(|p| p.type_.as_str())
            .or(pod_seccomp);
        if !matches!(seccomp, Some("RuntimeDefault" | "Localhost")) {
            fail(format!(
                "{who}: seccompProfile is not RuntimeDefault or Localhost"
            ));
        }
        let capabilities = c.capabilities.clone().unwrap_or_default();
        if !capabilities.drop.iter().flatten().any(|d| d == "ALL") {
            fail(format!("{who}: capabilities do not drop ALL"));
        }
        if capabilities
            .add
            .iter()
            .flatten()
            .any(|a| a != "NET_BIND_SERVICE")
        {
            fail(format!("{who}: adds capabilities"));
        }
        if c.proc_mount.as_deref().is_some_and(|m| m != "Default") {
            fail(format!("{who}: procMount"));
        }
        if container
            .ports
            .iter()
            .flatten()
            .any(|p| p.host_port.unwrap_or(0) != 0)
        {
            fail(format!("{who}: hostPort"));
        }
        // Beyond the standard: nothing here writes outside its /tmp emptyDir.
        if c.read_only_root_filesystem != Some(true) {
            fail(format!("{who}: readOnlyRootFilesystem is not true"));
        }
    }
    violations
}

#[test]
fn every_pod_meets_the_restricted_pod_security_standard_its_namespace_enforces() {
    for overlay in OVERLAYS {
        let rendered = render(overlay);
        let labels = rendered.namespaces[0]
            .metadata
            .labels
            .clone()
            .unwrap_or_default();
        for mode in ["enforce", "audit", "warn"] {
            assert_eq!(
                labels
                    .get(&format!("pod-security.kubernetes.io/{mode}"))
                    .map(String::as_str),
                Some("restricted"),
                "overlay {overlay}: namespace label pod-security.kubernetes.io/{mode}"
            );
        }
        assert!(!rendered.deployments.is_empty());
        for deployment in &rendered.deployments {
            let violations = restricted_violations(rendered.template(deployment));
            assert!(
                violations.is_empty(),
                "overlay {overlay}: Deployment {} would be rejected by Pod Security `restricted`: \
                 {violations:?}",
                name(deployment)
            );
        }
    }
}

#[test]
fn the_restricted_check_catches_a_root_pod() {
    let rendered = render("aks");
    let mut template = rendered
        .template(rendered.deployment("scaleboard-worker"))
        .clone();
    let spec = template.spec.as_mut().unwrap();
    spec.security_context = None;
    spec.containers[0].security_context = None;
    let violations = restricted_violations(&template);
    for expected in [
        "allowPrivilegeEscalation",
        "runAsNonRoot",
        "seccompProfile",
        "drop ALL",
    ] {
        assert!(
            violations.iter().any(|v| v.contains(expected)),
            "{expected} not reported in {violations:?}"
        );
    }
}

/// A NetworkPolicy rule's ports, as `protocol/port` (named ports stay names).
fn rule_ports(
    ports: &Option<Vec<k8s_openapi::api::networking::v1::NetworkPolicyPort>>,
) -> BTreeSet<String> {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    ports
        .iter()
        .flatten()
        .map(|p| {
            let port = match &p.port {
                Some(IntOrString::Int(n)) => n.to_string(),
                Some(IntOrString::String(s)) => s.clone(),
                None => "*".into(),
            };
            format!("{}/{port}", p.protocol.as_deref().unwrap_or("TCP"))
        })
        .collect()
}

#[test]
fn network_policies_allow_the_server_and_worker_only_what_they_use() {
    for overlay in OVERLAYS {
        let rendered = render(overlay);
        let policy_for = |deployment: &str| -> Vec<&NetworkPolicy> {
            let labels = rendered
                .template(rendered.deployment(deployment))
                .metadata
                .as_ref()
                .and_then(|m| m.labels.clone())
                .unwrap_or_default();
            rendered
                .network_policies
                .iter()
                .filter(|p| {
                    let selector = p
                        .spec
                        .as_ref()
                        .unwrap()
                        .pod_selector
                        .clone()
                        .unwrap_or_default();
                    assert!(
                        selector.match_expressions.is_none(),
                        "overlay {overlay}: keep policy selectors to matchLabels"
                    );
                    labels_match(&selector.match_labels.clone().unwrap_or_default(), &labels)
                })
                .collect()
        };
        // Both directions are closed for every pod unless opened.
        let deny = rendered
            .network_policies
            .iter()
            .find(|p| name(*p) == "default-deny")
            .unwrap_or_else(|| panic!("overlay {overlay}: no default-deny NetworkPolicy"));
        let deny = deny.spec.as_ref().unwrap();
        assert_eq!(
            deny.pod_selector.clone().unwrap_or_default(),
            Default::default(),
            "overlay {overlay}: default-deny selects every pod"
        );
        assert!(deny.ingress.is_none() && deny.egress.is_none());

        let dns: BTreeSet<String> = ["UDP/53".to_string(), "TCP/53".to_string()].into();
        for (deployment, inbound, outbound) in [
            (
                "scaleboard-worker",
                vec![BTreeSet::from(["TCP/health".to_string()])],
                vec![dns.clone(), ["TCP/443".to_string()].into()],
            ),
            (
                "scaleboard-server",
                vec![
                    BTreeSet::from(["TCP/http".to_string()]),
                    BTreeSet::from(["TCP/metrics".to_string()]),
                ],
                vec![
                    dns.clone(),
                    ["TCP/443".to_string(), "TCP/6443".to_string()].into(),
                ],
            ),
        ] {
            let mut ingress = Vec::new();
            let mut egress = Vec::new();
            for policy in policy_for(deployment) {
                let spec = policy.spec.as_ref().unwrap();
                let types = spec.policy_types.clone().unwrap_or_default();
                assert!(
                    types.contains(&"Ingress".into()) && types.contains(&"Egress".into()),
                    "overlay {overlay}: {} must govern both directions",
                    name(policy)
                );
                for rule in spec.ingress.iter().flatten() {
                    let ports = rule_ports(&rule.ports);
                    // The metrics ports admit the scraper and nobody else.
                    if ports.contains("TCP/metrics") || ports.contains("TCP/health") {
                        assert_eq!(
                            rule.from.clone().unwrap_or_default(),
                            vec![ama_metrics_peer()],
                            "overlay {overlay}: {deployment}'s metrics port must admit Azure Monitor's scraper only"
                        );
                    }
                    ingress.push(ports);
                }
                for rule in spec.egress.iter().flatten() {
                    let ports = rule_ports(&rule.ports);
                    assert!(!ports.is_empty(), "overlay {overlay}: egress to any port");
                    if ports == dns {
                        // DNS goes to the cluster's resolver only.
                        let peers = rule.to.clone().unwrap_or_default();
                        assert!(
                            !peers.is_empty()
                                && peers.iter().all(|peer| {
                                    peer.namespace_selector.is_some()
                                        && peer.pod_selector.is_some()
                                        && peer.ip_block.is_none()
                                }),
                            "overlay {overlay}: {deployment}'s DNS must go to kube-dns only"
                        );
                    }
                    egress.push(ports);
                }
            }
            assert_eq!(ingress, inbound, "overlay {overlay}: {deployment} ingress");
            assert_eq!(egress, outbound, "overlay {overlay}: {deployment} egress");
        }
        // The named port the server's ingress opens is the one it listens on.
        let server = rendered.container(rendered.deployment("scaleboard-server"), "server");
        assert!(
            server
                .ports
                .iter()
                .flatten()
                .any(|p| p.name.as_deref() == Some("http")),
            "overlay {overlay}: the server has no port named http"
        );
    }
}

/// Azure Monitor's managed Prometheus: the `ama-metrics` pods in kube-system.
fn ama_metrics_peer() -> k8s_openapi::api::networking::v1::NetworkPolicyPeer {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    let labels = |key: &str, value: &str| LabelSelector {
        match_labels: Some(BTreeMap::from([(key.to_string(), value.to_string())])),
        ..LabelSelector::default()
    };
    k8s_openapi::api::networking::v1::NetworkPolicyPeer {
        namespace_selector: Some(labels("kubernetes.io/metadata.name", "kube-system")),
        pod_selector: Some(labels("rsName", "ama-metrics")),
        ip_block: None,
    }
}

/// A container port's number, by name.
fn port_named(container: &Container, wanted: &str) -> Option<i32> {
    container
        .ports
        .iter()
        .flatten()
        .find(|p| p.name.as_deref() == Some(wanted))
        .map(|p| p.container_port)
}

#[test]
fn metrics_have_ports_of_their_own_that_the_service_does_not_expose() {
    for overlay in OVERLAYS {
        let rendered = render(overlay);
        let server = rendered.container(rendered.deployment("scaleboard-server"), "server");
        let metrics: std::net::SocketAddr = rendered
            .direct_env(server, "SCALEBOARD_METRICS_ADDR")
            .value
            .as_deref()
            .unwrap_or_else(|| panic!("overlay {overlay}: SCALEBOARD_METRICS_ADDR is a literal"))
            .parse()
            .expect("SCALEBOARD_METRICS_ADDR is an address");
        let http: std::net::SocketAddr = rendered
            .direct_env(server, "SCALEBOARD_ADDR")
            .value
            .as_deref()
            .unwrap()
            .parse()
            .unwrap();
        assert_ne!(metrics.port(), http.port(), "overlay {overlay}");
        // Listening on every interface: the scraper comes from another pod.
        assert!(metrics.ip().is_unspecified(), "overlay {overlay}");
        assert_eq!(
            port_named(server, "metrics"),
            Some(i32::from(metrics.port())),
            "overlay {overlay}: the container port named metrics is the one it listens on"
        );
        let worker = rendered.container(rendered.deployment("scaleboard-worker"), "worker");
        let health: std::net::SocketAddr = rendered
            .direct_env(worker, "SCALEBOARD_WORKER_HEALTH_ADDR")
            .value
            .as_deref()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            port_named(worker, "health"),
            Some(i32::from(health.port())),
            "overlay {overlay}"
        );

        // The Service reaches the dashboard only.
        use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
        for service in &rendered.services {
            for port in service.spec.as_ref().unwrap().ports.iter().flatten() {
                let target = match &port.target_port {
                    Some(IntOrString::String(name)) => port_named(server, name),
                    Some(IntOrString::Int(n)) => Some(*n),
                    None => Some(port.port),
                };
                assert_ne!(
                    target,
                    Some(i32::from(metrics.port())),
                    "overlay {overlay}: the Service {} exposes the metrics port",
                    name(service)
                );
            }
        }
    }
}

#[test]
fn azure_monitor_scrapes_both_components_on_their_metrics_ports() {
    let rendered = render("aks");
    let [monitor] = rendered.pod_monitors.as_slice() else {
        panic!("overlay aks: expected one PodMonitor");
    };
    assert_eq!(monitor["metadata"]["namespace"], NAMESPACE);
    let selector = &monitor["spec"]["selector"];
    let endpoints = monitor["spec"]["podMetricsEndpoints"]
        .as_array()
        .expect("podMetricsEndpoints");
    for (deployment, container, port) in [
        ("scaleboard-server", "server", "metrics"),
        ("scaleboard-worker", "worker", "health"),
    ] {
        let deployment = rendered.deployment(deployment);
        let labels = rendered
            .template(deployment)
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        // matchLabels and In-expressions, all of which must hold.
        let mut selected = selector["matchLabels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str())
            })
            .unwrap_or(true);
        for expression in selector["matchExpressions"]
            .as_array()
            .into_iter()
            .flatten()
        {
            assert_eq!(expression["operator"], "In", "keep the selector to In");
            let key = expression["key"].as_str().unwrap();
            let values: Vec<&str> = expression["values"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            selected &= labels
                .get(key)
                .is_some_and(|v| values.contains(&v.as_str()));
        }
        assert!(
            selected,
            "the PodMonitor does not select {}",
            name(deployment)
        );
        assert!(
            port_named(rendered.container(deployment, container), port).is_some(),
            "{container} has no port named {port}"
        );
        assert!(
            endpoints
                .iter()
                .any(|e| e["port"] == port && e["path"] == "/metrics"),
            "no endpoint scrapes /metrics on port {port}"
        );
    }
    assert_eq!(endpoints.len(), 2, "one endpoint per component");
}

// ---------------------------------------------------------------------------------------------
// deploy/infra/main.bicep. No Bicep compiler or parser runs here (the `bicep` CLI is a .NET
// binary outside the package registries), so these checks read the template's text: its
// top-level declarations, as the template is written (one declaration per line at column 0).

struct Bicep {
    text: String,
}

/// A top-level `resource`: its symbolic name, type and the text up to the next declaration.
struct BicepResource<'a> {
    symbol: &'a str,
    type_: &'a str,
    body: &'a str,
}

impl Bicep {
    fn load() -> Bicep {
        let path = repository().join("deploy/infra/main.bicep");
        Bicep {
            text: std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display())),
        }
    }

    /// Each top-level declaration of `keyword` (`param`, `var`, `resource`, `output`), from
    /// its line to the next top-level declaration.
    fn declarations(&self, keyword: &str) -> Vec<&str> {
        let starts: Vec<usize> = self
            .text
            .match_indices('\n')
            .map(|(i, _)| i + 1)
            .chain([0])
            .filter(|&i| {
                [
                    "param ",
                    "var ",
                    "resource ",
                    "output ",
                    "@",
                    "//",
                    "targetScope",
                ]
                .iter()
                .any(|k| self.text[i..].starts_with(k))
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        starts
            .iter()
            .enumerate()
            .filter(|(_, &start)| self.text[start..].starts_with(&format!("{keyword} ")))
            .map(|(n, &start)| {
                let end = starts.get(n + 1).copied().unwrap_or(self.text.len());
                &self.text[start..end]
            })
            .collect()
    }

    fn params(&self) -> BTreeMap<&str, &str> {
        self.declarations("param")
            .into_iter()
            .map(|d| {
                let mut words = d.split_whitespace().skip(1);
                let name = words.next().unwrap();
                let default = d
                    .lines()
                    .next()
                    .unwrap()
                    .split_once(" = ")
                    .map(|(_, v)| v.trim())
                    .unwrap_or("");
                (name, default)
            })
            .collect()
    }

    /// `var name = 'literal'` as name → literal.
    fn string_vars(&self) -> BTreeMap<&str, &str> {
        self.declarations("var")
            .into_iter()
            .filter_map(|d| {
                let line = d.lines().next()?;
                let (name, value) = line.strip_prefix("var ")?.split_once(" = ")?;
                let value = value.trim().strip_prefix('\'')?.strip_suffix('\'')?;
                Some((name.trim(), value))
            })
            .collect()
    }

    /// A `var name = [ ... ]` or `{ ... }` block's lines, trimmed.
    fn var_block(&self, wanted: &str) -> Vec<&str> {
        let declaration = self
            .declarations("var")
            .into_iter()
            .find(|d| d.starts_with(&format!("var {wanted} = ")))
            .unwrap_or_else(|| panic!("main.bicep has no var {wanted}"));
        declaration
            .lines()
            .skip(1)
            .map(str::trim)
            .filter(|l| !l.is_empty() && !matches!(*l, "]" | "}") && !l.starts_with("//"))
            .collect()
    }

    fn resources(&self) -> Vec<BicepResource<'_>> {
        self.declarations("resource")
            .into_iter()
            .map(|body| {
                let mut words = body.split_whitespace().skip(1);
                let symbol = words.next().unwrap();
                let type_ = words.next().unwrap().trim_matches('\'');
                BicepResource {
                    symbol,
                    type_,
                    body,
                }
            })
            .collect()
    }

    fn outputs(&self) -> BTreeMap<&str, &str> {
        self.declarations("output")
            .into_iter()
            .map(|d| {
                let line = d.lines().next().unwrap();
                let name = line.split_whitespace().nth(1).unwrap();
                let value = line.split_once(" = ").map(|(_, v)| v.trim()).unwrap();
                (name, value)
            })
            .collect()
    }
}

impl BicepResource<'_> {
    /// The value of `key:` in the body (first occurrence), without quotes.
    fn field(&self, key: &str) -> Option<&str> {
        self.body.lines().find_map(|line| {
            line.trim()
                .strip_prefix(&format!("{key}:"))
                .map(|v| v.trim().trim_matches('\''))
        })
    }
}

/// Azure's built-in role definition ids (learn.microsoft.com, "Azure built-in roles").
const BUILT_IN_ROLES: [(&str, &str); 5] = [
    ("acrPull", "7f951dda-4ed3-4680-a7ca-43fe172d538d"),
    (
        "storageBlobDataContributor",
        "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    ),
    (
        "storageQueueDataContributor",
        "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    ),
    (
        "storageQueueDataReader",
        "19e7f393-937e-4f77-808e-94535e297925",
    ),
    (
        "storageQueueDataMessageSender",
        "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a",
    ),
];

#[test]
fn the_bicep_template_names_what_the_code_and_the_overlays_use() {
    let bicep = Bicep::load();
    let strings = bicep.string_vars();
    let resolve = |item: &str| -> String {
        match item.strip_prefix('\'').and_then(|i| i.strip_suffix('\'')) {
            Some(literal) => literal.to_string(),
            None => strings
                .get(item)
                .unwrap_or_else(|| panic!("main.bicep: {item} is not a string var"))
                .to_string(),
        }
    };
    let queues: BTreeSet<String> = bicep
        .var_block("queueNames")
        .into_iter()
        .map(resolve)
        .collect();
    let containers: BTreeSet<String> = bicep
        .var_block("containerNames")
        .into_iter()
        .map(resolve)
        .collect();
    assert_eq!(
        queues,
        storage::names::QUEUES
            .iter()
            .map(|q| q.to_string())
            .collect(),
        "main.bicep's queues differ from storage/src/names.rs"
    );
    assert_eq!(
        containers,
        storage::names::CONTAINERS
            .iter()
            .map(|c| c.to_string())
            .collect(),
        "main.bicep's containers differ from storage/src/names.rs"
    );
    assert_eq!(strings["workQueueName"], storage::names::WORK_QUEUE);
    assert_eq!(strings["eventsQueueName"], storage::names::EVENTS_QUEUE);
    assert_eq!(
        strings["outputContainerName"],
        storage::names::OUTPUT_CONTAINER
    );

    // The example parameters set only parameters the template declares.
    let params = bicep.params();
    let file = repository().join("deploy/infra/main.bicepparam");
    let example = std::fs::read_to_string(&file).unwrap();
    assert!(
        example.contains("using './main.bicep'"),
        "{}",
        file.display()
    );
    for line in example.lines().filter(|l| l.starts_with("param ")) {
        let param = line.split_whitespace().nth(1).unwrap();
        assert!(
            params.contains_key(param),
            "{} sets {param}, which main.bicep does not declare",
            file.display()
        );
    }
    assert_eq!(params["workloadNamespace"], format!("'{NAMESPACE}'"));
    assert_eq!(
        params["kedaNamespace"], "'kube-system'",
        "the AKS KEDA add-on runs its operator in kube-system"
    );

    // Every output the walk-through reads exists.
    let outputs = bicep.outputs();
    let guide = std::fs::read_to_string(repository().join("docs/deploy-aks.md")).unwrap();
    let read: BTreeSet<&str> = guide
        .split("$(out ")
        .skip(1)
        .map(|rest| rest.split(')').next().unwrap())
        .collect();
    assert!(read.len() >= 5, "docs/deploy-aks.md reads {read:?}");
    for output in &read {
        assert!(
            outputs.contains_key(output),
            "docs/deploy-aks.md reads output {output}, which main.bicep does not have"
        );
    }
}

#[test]
fn the_bicep_template_gives_each_component_its_own_least_privileged_identity() {
    let bicep = Bicep::load();
    let resources = bicep.resources();
    let role_ids: BTreeMap<String, String> = bicep
        .var_block("roles")
        .into_iter()
        .map(|line| {
            let (name, id) = line.split_once(':').unwrap();
            (
                name.trim().to_string(),
                id.trim().trim_matches('\'').to_string(),
            )
        })
        .collect();
    for (role, id) in &role_ids {
        assert!(
            BUILT_IN_ROLES.contains(&(role.as_str(), id.as_str())),
            "main.bicep: role {role} = {id} is not that built-in role's id"
        );
    }

    let identities: BTreeSet<&str> = resources
        .iter()
        .filter(|r| {
            r.type_
                .starts_with("Microsoft.ManagedIdentity/userAssignedIdentities@")
        })
        .map(|r| r.symbol)
        .collect();
    assert_eq!(
        identities,
        ["kedaIdentity", "serverIdentity", "workerIdentity"].into(),
        "one identity per component"
    );

    // Which Kubernetes service account each identity trusts.
    let mut subjects = BTreeMap::new();
    for credential in resources.iter().filter(|r| {
        r.type_.starts_with(
            "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@",
        )
    }) {
        assert!(
            !credential.body.contains("[for "),
            "{}: one credential per identity, spelled out",
            credential.symbol
        );
        let parent = credential.field("parent").unwrap();
        let subject = credential.field("subject").unwrap();
        assert!(
            credential
                .body
                .contains("cluster.properties.oidcIssuerProfile.issuerURL")
                && credential.body.contains("'api://AzureADTokenExchange'"),
            "{}: trust this cluster's issuer and the token exchange audience",
            credential.symbol
        );
        assert!(
            subjects.insert(parent, subject).is_none(),
            "{parent} trusts more than one service account"
        );
    }
    assert_eq!(
        subjects,
        BTreeMap::from([
            (
                "serverIdentity",
                "system:serviceaccount:${workloadNamespace}:scaleboard-server"
            ),
            (
                "workerIdentity",
                "system:serviceaccount:${workloadNamespace}:scaleboard-worker"
            ),
            (
                "kedaIdentity",
                "system:serviceaccount:${kedaNamespace}:keda-operator"
            ),
        ])
    );

    // What each identity may do, and where: (role, scope).
    let data_roles: Vec<String> = bicep
        .var_block("dataRoles")
        .into_iter()
        .map(|r| r.strip_prefix("roles.").unwrap().to_string())
        .collect();
    let mut grants: BTreeMap<&str, BTreeSet<(String, &str)>> = BTreeMap::new();
    for assignment in resources.iter().filter(|r| {
        r.type_
            .starts_with("Microsoft.Authorization/roleAssignments@")
    }) {
        let principal = assignment.field("principalId").unwrap();
        let Some(identity) = principal
            .strip_suffix(".properties.principalId")
            .filter(|p| identities.contains(p))
        else {
            continue;
        };
        let scope = assignment.field("scope").unwrap();
        let header = assignment.body.lines().next().unwrap();
        let roles: Vec<String> = if header.contains("[for role in dataRoles:") {
            data_roles.clone()
        } else if header.contains("[for ") {
            panic!("{}: loop over an unexpected list", assignment.symbol)
        } else {
            let definition = assignment.field("roleDefinitionId").unwrap();
            let role = definition
                .split("roles.")
                .nth(1)
                .unwrap_or_else(|| panic!("{}: role not from `roles`", assignment.symbol))
                .trim_end_matches(')');
            vec![role.to_string()]
        };
        for role in roles {
            assert!(
                role_ids.contains_key(&role),
                "{}: unknown role {role}",
                assignment.symbol
            );
            grants.entry(identity).or_default().insert((role, scope));
        }
    }
    let contributor: BTreeSet<(String, &str)> = [
        ("storageBlobDataContributor".to_string(), "storage"),
        ("storageQueueDataContributor".to_string(), "storage"),
    ]
    .into();
    assert_eq!(
        grants,
        BTreeMap::from([
            ("serverIdentity", contributor.clone()),
            ("workerIdentity", contributor),
            (
                "kedaIdentity",
                [("storageQueueDataReader".to_string(), "workQueue")].into()
            ),
        ]),
        "role assignments per identity ((role, scope))"
    );
    // KEDA's scope is the work queue itself.
    let work_queue = resources
        .iter()
        .find(|r| r.symbol == "workQueue")
        .expect("a `workQueue` resource");
    assert!(
        work_queue
            .type_
            .starts_with("Microsoft.Storage/storageAccounts/queueServices/queues@")
            && work_queue.body.contains("existing")
            && work_queue.field("name") == Some("workQueueName"),
        "workQueue must be the existing `work-items` queue"
    );

    // The overlay hands each client id to its own consumer, and the outputs say which is which.
    let outputs = bicep.outputs();
    for (output, identity) in [
        ("serverIdentityClientId", "serverIdentity"),
        ("workerIdentityClientId", "workerIdentity"),
        ("kedaIdentityClientId", "kedaIdentity"),
    ] {
        assert_eq!(
            outputs.get(output).copied(),
            Some(format!("{identity}.properties.clientId").as_str()),
            "main.bicep output {output}"
        );
    }
    let rendered = render("aks");
    let annotation = |account: &str| {
        rendered
            .service_accounts
            .iter()
            .find(|a| name(*a) == account)
            .and_then(|a| a.metadata.annotations.clone())
            .and_then(|a| a.get("azure.workload.identity/client-id").cloned())
            .unwrap_or_else(|| panic!("ServiceAccount {account} has no client id"))
    };
    assert_eq!(annotation("scaleboard-server"), "SERVER_CLIENT_ID");
    assert_eq!(annotation("scaleboard-worker"), "WORKER_CLIENT_ID");
    assert_eq!(
        rendered.trigger_authentications[0]["spec"]["podIdentity"]["identityId"],
        "KEDA_CLIENT_ID"
    );
}

/// Syntax errors in `text` by tree-sitter's Bicep grammar, as `line:column` (1-based).
fn bicep_syntax_errors(text: &str) -> Vec<String> {
    let mut parser = tree_sitter::Parser::new();
    parser
        .set_language(&tree_sitter_bicep::LANGUAGE.into())
        .expect("the Bicep grammar loads");
    let tree = parser.parse(text, None).expect("the parser returns a tree");
    let mut errors = Vec::new();
    let mut cursor = tree.walk();
    let mut descend = true;
    loop {
        let node = cursor.node();
        if descend && (node.is_error() || node.is_missing()) {
            let at = node.start_position();
            errors.push(format!(
                "{}:{} {}",
                at.row + 1,
                at.column + 1,
                if node.is_missing() {
                    format!("missing {}", node.kind())
                } else {
                    "unexpected text".to_string()
                }
            ));
        }
        if descend && cursor.goto_first_child() {
            continue;
        }
        if cursor.goto_next_sibling() {
            descend = true;
            continue;
        }
        if !cursor.goto_parent() {
            break;
        }
        descend = false;
    }
    errors
}

#[test]
fn the_bicep_template_parses() {
    // A parse, not a compile: types, symbols and API versions are the `bicep` compiler's
    // (`az bicep build`), which is not available here. The grammar (1.1) predates
    // `.bicepparam` files, so main.bicepparam is checked by the tests above only.
    let text = Bicep::load().text;
    assert_eq!(
        bicep_syntax_errors(&text),
        Vec::<String>::new(),
        "deploy/infra/main.bicep has syntax errors"
    );
    let broken = text.replacen(
        "resource kedaIdentity 'Microsoft",
        "resource kedaIdentity Microsoft",
        1,
    );
    assert_ne!(broken, text);
    assert!(
        !bicep_syntax_errors(&broken).is_empty(),
        "the check must notice a broken declaration"
    );
}
