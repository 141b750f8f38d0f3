//! The HTTP front: parses Kubernetes API paths and query parameters, dispatches to the store,
//! discovery and watch code, and renders responses (network I/O through axum).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::discovery;
use crate::error::{ApiError, ApiResult};
use crate::resources::ResourceDef;
use crate::select::Selector;
use crate::store::Store;
use crate::watch::{self, WatchSpec};
use crate::write::{PatchType, WriteCtx, to_view};

/// Shared server state.
pub struct AppState {
    /// The objects.
    pub store: Store,
    /// Interval between watch bookmarks.
    pub bookmark_every: Duration,
    /// `host:port` clients reach us at (for `/api`).
    pub address: String,
    /// Signs and checks bearer tokens.
    pub signer: crate::auth::Signer,
}

/// The router: everything goes through one handler that parses the path itself.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

/// A request after path parsing.
struct Request {
    method: Method,
    headers: HeaderMap,
    query: HashMap<String, String>,
    body: Bytes,
    user: crate::auth::User,
}

impl Request {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn flag(&self, name: &str) -> bool {
        matches!(self.param(name), Some("true" | "1"))
    }

    fn wants_table(&self) -> bool {
        self.headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("as=Table"))
    }

    fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn manager(&self) -> String {
        if let Some(m) = self.param("fieldManager") {
            return m.to_string();
        }
        let agent = self
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("unknown");
        agent.split('/').next().unwrap_or("unknown").to_string()
    }

    fn selectors(&self) -> ApiResult<(Selector, Selector)> {
        Ok((
            Selector::labels(self.param("labelSelector").unwrap_or_default())?,
            Selector::fields(self.param("fieldSelector").unwrap_or_default())?,
        ))
    }

    fn json_body(&self) -> ApiResult<Value> {
        if self.content_type().contains("protobuf") {
            return Err(ApiError::unsupported_body(self.content_type()));
        }
        if self.content_type().contains("yaml") {
            let text = std::str::from_utf8(&self.body)
                .map_err(|e| ApiError::bad_request(format!("body is not UTF-8: {e}")))?;
            return serde_saphyr::from_str(text)
                .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")));
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding JSON body: {e}")))
    }
}

fn json_response(code: StatusCode, value: &Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

fn error_response(err: &ApiError) -> Response {
    let code = StatusCode::from_u16(err.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(code, &err.status())
}

async fn handle(
    State(st): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let query = Query::<HashMap<String, String>>::try_from_uri(&uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let body = match axum::body::to_bytes(body, 64 << 20).await {
        Ok(b) => b,
        Err(e) => return error_response(&ApiError::bad_request(format!("reading body: {e}"))),
    };
    let user = match crate::gate::authenticate(&st.store, &st.signer, &headers) {
        Ok(user) => user,
        Err(e) => return error_response(&e),
    };
    let req = Request {
        method,
        headers,
        query,
        body,
        user,
    };
    let path = uri.path().to_string();
    tracing::debug!(method = %req.method, path, user = %req.user.name, "request");
    match dispatch(&st, &path, &req) {
        Ok(resp) => resp,
        Err(e) => {
            tracing::debug!(code = e.code, message = %e.message, path, "request failed");
            error_response(&e)
        }
    }
}

fn found(doc: Option<Value>, path: &str) -> ApiResult<Response> {
    doc.map(|d| json_response(StatusCode::OK, &d))
        .ok_or_else(|| ApiError::no_route(path))
}

fn dispatch(st: &Arc<AppState>, path: &str, req: &Request) -> ApiResult<Response> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let get = req.method == Method::GET;
    let resource_request = matches!(segs.as_slice(), ["api", _, _, ..] | ["apis", _, _, _, ..]);
    if !resource_request {
        crate::gate::authorize_path(&req.user, path)?;
    }
    match segs.as_slice() {
        ["healthz" | "readyz" | "livez"] => Ok((StatusCode::OK, "ok").into_response()),
        ["version"] if get => found(Some(discovery::version()), path),
        ["api"] if get => found(Some(discovery::core_versions(&st.address)), path),
        ["apis"] if get => found(Some(discovery::groups(&st.store.resources())), path),
        ["apis", g] if get => found(discovery::group(&st.store.resources(), g), path),
        ["api", v] if get => found(discovery::resource_list(&st.store.resources(), "", v), path),
        ["apis", g, v] if get => found(discovery::resource_list(&st.store.resources(), g, v), path),
        ["openapi", "v2"] if get => Ok((
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
            )],
            discovery::openapi_v2_protobuf(),
        )
            .into_response()),
        ["openapi", "v3"] if get => {
            found(Some(discovery::openapi_root(&st.store.resources())), path)
        }
        ["openapi", "v3", rest @ ..] if get => found(
            discovery::openapi_group_version(&st.store.resources(), &rest.join("/")),
            path,
        ),
        ["debug", "compact"] if req.method == Method::POST => Ok(json_response(
            StatusCode::OK,
            &json!({"resourceVersion": st.store.compact()?.to_string()}),
        )),
        ["api", v, rest @ ..] => resource(st, ("", v), rest, req, path),
        ["apis", g, v, rest @ ..] => resource(st, (g, v), rest, req, path),
        _ => Err(ApiError::no_route(path)),
    }
}

/// A parsed resource path.
struct Target<'a> {
    res: &'static ResourceDef,
    ns: Option<&'a str>,
    name: Option<&'a str>,
    sub: Option<&'a str>,
}

fn parse_target<'a>(store: &Store, gv: (&str, &str), rest: &[&'a str]) -> Option<Target<'a>> {
    let (ns, rest) = match rest {
        ["namespaces", ns, tail @ ..] if !tail.is_empty() => (Some(*ns), tail),
        _ => (None, rest),
    };
    let (plural, name, sub) = match rest {
        [p] => (*p, None, None),
        [p, n] => (*p, Some(*n), None),
        [p, n, s] => (*p, Some(*n), Some(*s)),
        _ => return None,
    };
    let res = store.find(gv.0, gv.1, plural)?;
    let sub_ok = |s: &str| match s {
        "status" => res.has_status,
        "token" => res.plural == "serviceaccounts",
        _ => false,
    };
    if (ns.is_some() && !res.namespaced) || sub.is_some_and(|s| !sub_ok(s)) {
        return None;
    }
    Some(Target { res, ns, name, sub })
}

fn resource(
    st: &Arc<AppState>,
    gv: (&str, &str),
    rest: &[&str],
    req: &Request,
    path: &str,
) -> ApiResult<Response> {
    let t = parse_target(&st.store, gv, rest).ok_or_else(|| ApiError::no_route(path))?;
    let (res, ns) = (t.res, t.ns);
    let attrs = crate::gate::attributes(&req.method, res, (ns, t.name, t.sub), req.flag("watch"));
    crate::gate::authorize(&st.store, &req.user, &attrs)?;
    if let (Some("token"), Some(name), Some(ns)) = (t.sub, t.name, ns) {
        if req.method != Method::POST {
            return Err(ApiError::method_not_allowed(format!(
                "{} is not supported on {path}",
                req.method
            )));
        }
        let out = crate::gate::token_request(&st.store, &st.signer, (ns, name), &req.json_body()?)?;
        return Ok(json_response(StatusCode::CREATED, &out));
    }
    if req.param("dryRun").is_some() {
        return Err(ApiError::bad_request(
            "dryRun is not supported by kilo-test-apiserver",
        ));
    }
    let manager = req.manager();
    let ctx = WriteCtx {
        manager: &manager,
        subresource: t.sub,
        force: req.flag("force"),
        strict: req.param("fieldValidation") == Some("Strict"),
        user: Some(&req.user),
    };
    let Some(name) = t.name else {
        return match req.method {
            Method::GET if req.flag("watch") => start_watch(st, res, ns, req),
            Method::GET => list(st, res, ns, req),
            Method::POST if ns.is_some() || !res.namespaced => {
                let created = st.store.create(res, ns, &req.json_body()?, ctx)?;
                Ok(json_response(StatusCode::CREATED, &created))
            }
            Method::DELETE => delete_collection(st, res, ns, req),
            _ => Err(ApiError::method_not_allowed(format!(
                "{} is not supported on {path}",
                req.method
            ))),
        };
    };
    match req.method {
        Method::GET => {
            let obj = st.store.get(res, ns, name)?;
            if req.wants_table() && t.sub.is_none() {
                return Ok(table_response(&crate::table::render(res, &[obj], 0)));
            }
            Ok(json_response(StatusCode::OK, &to_view(res, &obj)))
        }
        Method::PUT => Ok(json_response(
            StatusCode::OK,
            &st.store.update(res, ns, name, &req.json_body()?, ctx)?,
        )),
        Method::PATCH => {
            let ct = req.content_type();
            let kind = match ct.split(';').next().unwrap_or_default().trim() {
                "application/merge-patch+json" => PatchType::Merge,
                "application/json-patch+json" => PatchType::Json,
                "application/strategic-merge-patch+json" => PatchType::Strategic,
                "application/apply-patch+yaml" => PatchType::Apply,
                _ => return Err(ApiError::unsupported_media(ct)),
            };
            let (obj, created) = st.store.patch(res, ns, name, kind, &req.body, ctx)?;
            Ok(json_response(
                if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                },
                &obj,
            ))
        }
        Method::DELETE if t.sub.is_none() => Ok(json_response(
            StatusCode::OK,
            &to_view(res, &st.store.delete_as(res, ns, name, Some(&req.user))?),
        )),
        _ => Err(ApiError::method_not_allowed(format!(
            "{} is not supported on {path}",
            req.method
        ))),
    }
}

fn table_response(table: &Value) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/json;as=Table;v=v1;g=meta.k8s.io",
        )],
        table.to_string(),
    )
        .into_response()
}

/// Runs `f` over the objects of `res` that the request's label and field selectors match, with
/// the list resourceVersion, under the store's lock (see `Store::scan`).
fn scan_selected<R>(
    st: &Arc<AppState>,
    res: &ResourceDef,
    ns: Option<&str>,
    req: &Request,
    f: impl FnOnce(&mut dyn Iterator<Item = &Value>, u64) -> R,
) -> ApiResult<R> {
    let (labels, fields) = req.selectors()?;
    Ok(st.store.scan(res, ns, |items, rv| {
        let mut items = items.filter(|o| labels.matches(o) && fields.matches(o));
        f(&mut items, rv)
    }))
}

/// The objects of `res` the request selects, copied out, and the list resourceVersion.
fn selected(
    st: &Arc<AppState>,
    res: &ResourceDef,
    ns: Option<&str>,
    req: &Request,
) -> ApiResult<(Vec<Value>, u64)> {
    scan_selected(st, res, ns, req, |items, rv| (items.cloned().collect(), rv))
}

fn list(
    st: &Arc<AppState>,
    res: &ResourceDef,
    ns: Option<&str>,
    req: &Request,
) -> ApiResult<Response> {
    if req.wants_table() {
        let (items, rv) = selected(st, res, ns, req)?;
        return Ok(table_response(&crate::table::render(res, &items, rv)));
    }
    let page = scan_selected(st, res, ns, req, |items, rv| {
        crate::page::page(items, rv, req.param("limit"), req.param("continue"))
    })??;
    let items: Vec<Value> = page.items.iter().map(|o| to_view(res, o)).collect();
    let mut meta = json!({"resourceVersion": page.rv.to_string()});
    if let Some((token, remaining)) = page.next {
        meta["continue"] = json!(token);
        meta["remainingItemCount"] = json!(remaining);
    }
    let list = json!({
        "kind": res.list_kind(), "apiVersion": res.api_version(), "metadata": meta, "items": items,
    });
    Ok(json_response(StatusCode::OK, &list))
}

fn delete_collection(
    st: &Arc<AppState>,
    res: &ResourceDef,
    ns: Option<&str>,
    req: &Request,
) -> ApiResult<Response> {
    let (items, _) = selected(st, res, ns, req)?;
    let mut deleted = Vec::new();
    for o in &items {
        let name = o
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let ons = o.pointer("/metadata/namespace").and_then(Value::as_str);
        deleted.push(to_view(res, &st.store.delete(res, ons, name)?));
    }
    let rv = st.store.list(res, ns).1;
    let list = json!({"kind": res.list_kind(), "apiVersion": res.api_version(), "metadata": {"resourceVersion": rv.to_string()}, "items": deleted});
    Ok(json_response(StatusCode::OK, &list))
}

fn start_watch(
    st: &Arc<AppState>,
    res: &'static ResourceDef,
    ns: Option<&str>,
    req: &Request,
) -> ApiResult<Response> {
    let (labels, fields) = req.selectors()?;
    let since = match req.param("resourceVersion") {
        None | Some("0") => None,
        Some(rv) => Some(
            rv.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}")))?,
        ),
    };
    let timeout = req
        .param("timeoutSeconds")
        .and_then(|t| t.parse().ok())
        .unwrap_or(1800);
    let spec = WatchSpec {
        res,
        ns: ns.map(str::to_string),
        labels,
        fields,
        bookmarks: req.flag("allowWatchBookmarks"),
        send_initial: req.flag("sendInitialEvents"),
        timeout: Duration::from_secs(timeout),
        bookmark_every: st.bookmark_every,
    };
    let sub = st.store.subscribe(res, since, spec.send_initial);
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    tokio::spawn(watch::run(spec, sub, tx));
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<Bytes, std::convert::Infallible>(b), rx))
    });
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}
