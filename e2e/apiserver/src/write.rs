//! Writes to the store: create, update (PUT), the four patch types and server-side apply,
//! with resourceVersion preconditions and field ownership (no network I/O).

use serde_json::{Map, Value, json};

use crate::error::{ApiError, ApiResult};
use crate::fields::{Ownership, Writer};
use crate::meta;
use crate::resources::ResourceDef;
use crate::store::{ChangeType, Entry, Inner, Store, key};

/// The kinds of PATCH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/merge-patch+json`.
    Merge,
    /// `application/json-patch+json`.
    Json,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/apply-patch+yaml` (server-side apply).
    Apply,
}

/// Who writes and how.
#[derive(Debug, Clone, Copy)]
pub struct WriteCtx<'a> {
    /// Field manager.
    pub manager: &'a str,
    /// `Some("status")` for the status subresource.
    pub subresource: Option<&'a str>,
    /// Server-side apply `force`.
    pub force: bool,
    /// `fieldValidation=Strict`: unknown fields are an error rather than pruned.
    pub strict: bool,
    /// Who writes (admission policies see it); None for the server's own writes.
    pub user: Option<&'a crate::auth::User>,
}

impl<'a> WriteCtx<'a> {
    /// A plain write by `manager` to the main resource.
    pub fn by(manager: &'a str) -> Self {
        Self {
            manager,
            subresource: None,
            force: false,
            strict: false,
            user: None,
        }
    }
}

/// The object as the client sees it (events.k8s.io is a view of core events).
pub fn to_view(res: &ResourceDef, stored: &Value) -> Value {
    if res.is_events_v1() {
        crate::events::to_events_v1(stored)
    } else {
        stored.clone()
    }
}

fn from_view(res: &ResourceDef, view: &Value) -> Value {
    if res.is_events_v1() {
        crate::events::to_core(view)
    } else {
        view.clone()
    }
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
}

/// The object's metadata map, created when missing; None when `obj` is not an object.
fn metadata(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    let slot = obj
        .as_object_mut()?
        .entry("metadata")
        .or_insert_with(|| json!({}));
    if !slot.is_object() {
        *slot = json!({});
    }
    slot.as_object_mut()
}

/// Where a write goes.
#[derive(Debug, Clone, Copy)]
struct Target<'a> {
    res: &'static ResourceDef,
    ns: Option<&'a str>,
    name: &'a str,
}

/// Checks apiVersion and kind (when given) against the endpoint, then sets them.
fn check_type(res: &ResourceDef, view: &mut Value, required: bool) -> ApiResult<()> {
    if !view.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    for (field, want) in [
        ("apiVersion", res.api_version()),
        ("kind", res.kind.to_string()),
    ] {
        match view.get(field).and_then(Value::as_str) {
            Some(got) if got != want => {
                return Err(ApiError::bad_request(format!(
                    "{field} {got:?} does not match the endpoint ({want:?})"
                )));
            }
            None if required => return Err(ApiError::bad_request(format!("{field} must be set"))),
            _ => view[field] = Value::String(want),
        }
    }
    Ok(())
}

/// Admission of a written object: a CRD must be acceptable (then gets its status); a custom
/// resource is pruned, defaulted and validated against its schema, and with
/// `fieldValidation=Strict` an unknown field is an error.
fn admit(res: &ResourceDef, obj: &mut Value, name: &str, strict: bool) -> ApiResult<()> {
    if res.storage == crate::crd::CRD_STORAGE {
        let errs = crate::crd::check(obj);
        if !errs.is_empty() {
            return Err(ApiError::invalid_fields(res.kind, res.group, name, errs));
        }
        if obj.pointer("/status/conditions").is_none() {
            obj["status"] = crate::crd::accepted_status(obj);
        }
        return Ok(());
    }
    let Some(schema) = res.schema else {
        if strict {
            return match crate::builtin::unknown_fields(res, obj) {
                Some(unknown) if !unknown.is_empty() => Err(strict_error(res, &unknown)),
                _ => Ok(()),
            };
        }
        crate::builtin::prune_unknown(res, obj);
        return Ok(());
    };
    let (unknown, errs) = schema.admit(obj);
    if strict && !unknown.is_empty() {
        return Err(strict_error(res, &unknown));
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid_fields(res.kind, res.group, name, errs))
    }
}

/// kube-apiserver's 400 for a `fieldValidation=Strict` write with unknown fields.
fn strict_error(res: &ResourceDef, unknown: &[String]) -> ApiError {
    let fields: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    ApiError::bad_request(format!(
        "{kind} in version {version:?} cannot be handled as a {kind}: strict decoding error: {}",
        fields.join(", "),
        kind = res.kind,
        version = res.version,
    ))
}

/// The bound ValidatingAdmissionPolicies' verdict on a write (403 Forbidden when denied).
pub(crate) fn policies(
    inner: &mut Inner,
    res: &ResourceDef,
    user: Option<&crate::auth::User>,
    request: (&str, Option<&str>, &str, Option<&str>),
    objects: (Option<&Value>, Option<&Value>),
) -> ApiResult<()> {
    let Some(user) = user else {
        return Ok(());
    };
    let objects_of = |inner: &Inner, storage: &str| -> Vec<Value> {
        inner
            .buckets
            .get(storage)
            .map(|b| b.values().map(|e| e.object.clone()).collect())
            .unwrap_or_default()
    };
    let bindings = objects_of(inner, "validatingadmissionpolicybindings");
    if bindings.is_empty() {
        return Ok(());
    }
    let policies = objects_of(inner, "validatingadmissionpolicies");
    let a = crate::policy::admission(user, res, request, objects);
    crate::policy::enforce(&policies, &bindings, &a).map_err(|why| {
        let (_, _, name, _) = request;
        let message = format!("{} {name:?} is forbidden: {why}", qualified(res));
        ApiError::forbidden(message, name, res.group, res.plural)
    })
}

fn qualified(res: &ResourceDef) -> String {
    if res.group.is_empty() {
        res.plural.to_string()
    } else {
        format!("{}.{}", res.plural, res.group)
    }
}

/// Content that is neither metadata nor status (changes bump `generation`).
fn spec_part(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    o
}

fn same_content(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = metadata(&mut v) {
            m.remove("resourceVersion");
            m.remove("managedFields");
        }
        v
    };
    strip(a) == strip(b)
}

impl Store {
    /// Creates an object (POST); `body` is in the client's view.
    pub fn create(
        &self,
        res: &ResourceDef,
        ns: Option<&str>,
        body: &Value,
        ctx: WriteCtx<'_>,
    ) -> ApiResult<Value> {
        let mut view = body.clone();
        check_type(res, &mut view, false)?;
        let obj = from_view(res, &view);
        let obj = self.insert_new(
            &mut self.lock(),
            (res, ns),
            obj,
            Ownership::default(),
            (Some(ctx.manager), ctx.strict, ctx.user),
        )?;
        self.persist()?;
        Ok(to_view(res, &obj))
    }

    /// Stores a new object; `who` is the manager recording ownership (None when the caller
    /// did) and whether field validation is strict.
    fn insert_new(
        &self,
        inner: &mut Inner,
        (res, ns): (&ResourceDef, Option<&str>),
        mut obj: Value,
        mut ownership: Ownership,
        (manager, strict, user): (Option<&str>, bool, Option<&crate::auth::User>),
    ) -> ApiResult<Value> {
        let now = meta::now_rfc3339();
        let Some(m) = metadata(&mut obj) else {
            return Err(ApiError::bad_request(
                "the request body must be a JSON object",
            ));
        };
        let mut name = m
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if name.is_empty() {
            match m.get("generateName").and_then(Value::as_str) {
                Some(prefix) if !prefix.is_empty() => {
                    name = format!("{prefix}{}", meta::name_suffix())
                }
                _ => {
                    return Err(ApiError::invalid(
                        res.plural,
                        "",
                        "metadata.name: Required value: name or generateName is required",
                    ));
                }
            }
        }
        m.insert("name".into(), Value::String(name.clone()));
        if res.namespaced {
            let ns = ns.unwrap_or("default");
            if m.get("namespace")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty() && n != ns)
            {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            m.insert("namespace".into(), Value::String(ns.to_string()));
        } else {
            m.remove("namespace");
        }
        m.insert("uid".into(), Value::String(meta::new_uid()));
        m.insert("creationTimestamp".into(), Value::String(now.clone()));
        m.remove("resourceVersion");
        m.remove("deletionTimestamp");
        m.remove("managedFields");
        if res.generation {
            m.insert("generation".into(), json!(1));
        }
        if res.kind == "Namespace" && obj.pointer("/status/phase").is_none() {
            obj["status"] = json!({"phase": "Active"});
        }
        admit(res, &mut obj, &name, strict)?;
        policies(
            inner,
            res,
            user,
            ("CREATE", ns, &name, None),
            (None, Some(&obj)),
        )?;
        let k = key(res, ns, &name);
        if inner.bucket(res).contains_key(&k) {
            return Err(ApiError::already_exists(res.plural, &name));
        }
        if let Some(manager) = manager {
            let api_version = res.api_version();
            ownership.record_update(
                None,
                &obj,
                &Writer {
                    manager,
                    api_version: &api_version,
                    time: &now,
                },
            );
        }
        let entry = Entry {
            object: obj,
            ownership,
        };
        Ok(inner.commit(self.sender(), res, k, entry, ChangeType::Added, None))
    }

    /// Replaces an object (PUT); a non-empty stale `metadata.resourceVersion` is a conflict.
    pub fn update(
        &self,
        res: &'static ResourceDef,
        ns: Option<&str>,
        name: &str,
        body: &Value,
        ctx: WriteCtx<'_>,
    ) -> ApiResult<Value> {
        let mut view = body.clone();
        check_type(res, &mut view, false)?;
        if meta_str(&view, "name").is_some_and(|n| n != name) {
            return Err(ApiError::bad_request(
                "the name of the object does not match the name on the URL",
            ));
        }
        let out = {
            let mut inner = self.lock();
            let current = inner
                .bucket(res)
                .get(&key(res, ns, name))
                .cloned()
                .ok_or_else(|| ApiError::not_found(res.plural, name))?;
            let new = from_view(res, &view);
            check_rv(res, name, &current.object, &new)?;
            let target = Target { res, ns, name };
            self.finish(&mut inner, target, current, new, ctx, None)?
        };
        self.persist()?;
        Ok(to_view(res, &out))
    }

    /// Patches an object; server-side apply creates it when missing. Returns (object, created).
    pub fn patch(
        &self,
        res: &'static ResourceDef,
        ns: Option<&str>,
        name: &str,
        kind: PatchType,
        body: &[u8],
        ctx: WriteCtx<'_>,
    ) -> ApiResult<(Value, bool)> {
        let parsed: Value = if kind == PatchType::Apply {
            let text = std::str::from_utf8(body)
                .map_err(|e| ApiError::bad_request(format!("apply patch is not UTF-8: {e}")))?;
            serde_saphyr::from_str(text)
                .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?
        } else {
            serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?
        };
        let target = Target { res, ns, name };
        let out = self.patch_locked(&mut self.lock(), target, kind, parsed, ctx)?;
        self.persist()?;
        Ok(out)
    }

    fn patch_locked(
        &self,
        inner: &mut Inner,
        target: Target<'_>,
        kind: PatchType,
        parsed: Value,
        ctx: WriteCtx<'_>,
    ) -> ApiResult<(Value, bool)> {
        let (res, ns, name) = (target.res, target.ns, target.name);
        let current = inner.bucket(res).get(&key(res, ns, name)).cloned();
        if kind == PatchType::Apply {
            return self.apply(inner, target, current, parsed, ctx);
        }
        let current = current.ok_or_else(|| ApiError::not_found(res.plural, name))?;
        let mut view = to_view(res, &current.object);
        match kind {
            PatchType::Merge => crate::patch::merge(&mut view, &parsed),
            PatchType::Strategic => crate::patch::strategic(&mut view, &parsed),
            _ => crate::patch::json_patch(&mut view, &parsed).map_err(|e| {
                ApiError::invalid(res.plural, name, format!("the JSON patch failed: {e}"))
            })?,
        }
        check_type(res, &mut view, false)?;
        let new = from_view(res, &view);
        check_rv(res, name, &current.object, &new)?;
        let out = self.finish(inner, target, current, new, ctx, None)?;
        Ok((to_view(res, &out), false))
    }

    fn apply(
        &self,
        inner: &mut Inner,
        t: Target<'_>,
        current: Option<Entry>,
        mut config: Value,
        ctx: WriteCtx<'_>,
    ) -> ApiResult<(Value, bool)> {
        let res = t.res;
        check_type(res, &mut config, true)?;
        if meta_str(&config, "name").is_some_and(|n| n != t.name) {
            return Err(ApiError::bad_request(
                "the name of the object does not match the name on the URL",
            ));
        }
        let config = from_view(res, &config);
        let now = meta::now_rfc3339();
        let api_version = res.api_version();
        let writer = Writer {
            manager: ctx.manager,
            api_version: &api_version,
            time: &now,
        };
        let conflict = |c: Vec<String>| ApiError::apply_conflict(res.plural, t.name, &c);
        let Some(current) = current else {
            let mut ownership = Ownership::default();
            let base =
                json!({"apiVersion": api_version, "kind": res.kind, "metadata": {"name": t.name}});
            let obj = ownership
                .apply(&base, &config, &writer, true)
                .map_err(conflict)?;
            let out = self.insert_new(
                inner,
                (res, t.ns),
                obj,
                ownership,
                (None, ctx.strict, ctx.user),
            )?;
            return Ok((to_view(res, &out), true));
        };
        let mut ownership = current.ownership.clone();
        let new = ownership
            .apply(&current.object, &config, &writer, ctx.force)
            .map_err(conflict)?;
        check_rv(res, t.name, &current.object, &config)?;
        let out = self.finish(inner, t, current, new, ctx, Some(ownership))?;
        Ok((to_view(res, &out), false))
    }

    /// Common tail of every modification: server fields, status subresource, generation,
    /// validation, ownership (`applied` carries it for server-side apply), no-op detection, commit.
    fn finish(
        &self,
        inner: &mut Inner,
        t: Target<'_>,
        current: Entry,
        mut new: Value,
        ctx: WriteCtx<'_>,
        applied: Option<Ownership>,
    ) -> ApiResult<Value> {
        let (res, old) = (t.res, &current.object);
        if ctx.subresource == Some("status") {
            let status = new.get("status").cloned();
            new = old.clone();
            if let (Some(status), Some(root)) = (status, new.as_object_mut()) {
                root.insert("status".into(), status);
            }
        }
        let Some(m) = metadata(&mut new) else {
            return Err(ApiError::bad_request(
                "the request body must be a JSON object",
            ));
        };
        for field in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "generation",
            "resourceVersion",
        ] {
            match old.get("metadata").and_then(|om| om.get(field)) {
                Some(v) => m.insert(field.into(), v.clone()),
                None => m.remove(field),
            };
        }
        if res.generation && spec_part(old) != spec_part(&new) {
            let g = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            new["metadata"]["generation"] = json!(g + 1);
        }
        admit(res, &mut new, t.name, ctx.strict)?;
        let request = ("UPDATE", t.ns, t.name, ctx.subresource);
        policies(inner, res, ctx.user, request, (Some(old), Some(&new)))?;
        let ownership = applied.unwrap_or_else(|| {
            let mut ownership = current.ownership.clone();
            let (now, api_version) = (meta::now_rfc3339(), res.api_version());
            let writer = Writer {
                manager: ctx.manager,
                api_version: &api_version,
                time: &now,
            };
            ownership.record_update(Some(old), &new, &writer);
            ownership
        });
        if same_content(old, &new) && ownership.same_fields(&current.ownership) {
            return Ok(old.clone());
        }
        let old = old.clone();
        let entry = Entry {
            object: new,
            ownership,
        };
        Ok(inner.commit(
            self.sender(),
            res,
            key(res, t.ns, t.name),
            entry,
            ChangeType::Modified,
            Some(old),
        ))
    }
}

fn check_rv(res: &ResourceDef, name: &str, current: &Value, new: &Value) -> ApiResult<()> {
    match meta_str(new, "resourceVersion") {
        Some(rv) if !rv.is_empty() && Some(rv) != meta_str(current, "resourceVersion") => {
            Err(ApiError::conflict(res.plural, name))
        }
        _ => Ok(()),
    }
}
