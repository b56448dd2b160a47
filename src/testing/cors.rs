//! The CORS layer in front of s3s-fs, which has none: it answers browsers as S3 and R2 answer for a
//! bucket CORS configuration. A preflight (OPTIONS with `Origin` and
//! `Access-Control-Request-Method`) gets 200 and the allow headers when a rule matches, 403
//! otherwise; other requests from an allowed origin get `Access-Control-Allow-Origin` and the
//! exposed headers.

/// The first rule allowing `origin` and `method`.
fn matching_rule<'c>(cors: &'c crate::CorsConfiguration, origin: &str, method: &str) -> Option<&'c crate::CorsRule> {
    cors.rules.iter().find(|rule| {
        rule.allowed_origins.iter().any(|o| o == "*" || o == origin)
            && rule.allowed_methods.iter().any(|m| m.eq_ignore_ascii_case(method))
    })
}

fn text_response(status: u16, body: String) -> http::Response<s3s::Body> {
    let mut response = http::Response::new(s3s::Body::from(body));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::FORBIDDEN);
    response
}

pub(super) async fn with_cors(
    s3: &s3s::service::S3Service,
    cors: Option<&crate::CorsConfiguration>,
    request: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<s3s::Body>, s3s::HttpError> {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let origin = header("origin");
    if request.method() == http::Method::OPTIONS {
        let (Some(origin), Some(method)) = (origin, header("access-control-request-method")) else {
            return Ok(text_response(400, "a CORS preflight needs Origin and Access-Control-Request-Method".into()));
        };
        let wanted: Vec<String> = header("access-control-request-headers")
            .map(|h| h.split(',').map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        let rule = cors.and_then(|c| matching_rule(c, &origin, &method)).filter(|rule| {
            wanted.iter().all(|w| rule.allowed_headers.iter().any(|h| h == "*" || h.eq_ignore_ascii_case(w)))
        });
        let Some(rule) = rule else {
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessForbidden</Code>\
                        <Message>CORSResponse: This CORS request is not allowed.</Message></Error>";
            return Ok(text_response(403, body.into()));
        };
        let mut response = text_response(200, String::new());
        let headers = response.headers_mut();
        let mut set = |name: &'static str, value: String| {
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        };
        set("access-control-allow-origin", origin);
        set("access-control-allow-methods", rule.allowed_methods.join(", "));
        if !wanted.is_empty() {
            set("access-control-allow-headers", wanted.join(", "));
        }
        if !rule.expose_headers.is_empty() {
            set("access-control-expose-headers", rule.expose_headers.join(", "));
        }
        if let Some(age) = rule.max_age_seconds {
            set("access-control-max-age", age.to_string());
        }
        set("vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method".into());
        return Ok(response);
    }
    let method = request.method().as_str().to_owned();
    let mut response = hyper::service::Service::call(s3, request).await?;
    if let (Some(origin), Some(cors)) = (origin, cors)
        && let Some(rule) = matching_rule(cors, &origin, &method)
    {
        let headers = response.headers_mut();
        if let Ok(value) = http::HeaderValue::from_str(&origin) {
            headers.insert("access-control-allow-origin", value);
        }
        if let Ok(value) = http::HeaderValue::from_str(&rule.expose_headers.join(", ")) {
            headers.insert("access-control-expose-headers", value);
        }
        headers.insert("vary", http::HeaderValue::from_static("Origin"));
    }
    Ok(response)
}
