"""Security headers for every response, built once from the settings.

The policy allows only the site's own scripts, styles and connections (no inline scripts), so
pages load nothing from another host; a map tile server (``CITYOPS_MAP_TILE_URL``) is the one
outside origin allowed, for images only. A route may send its own ``Content-Security-Policy``
(the API docs do); the middleware then leaves it alone.

API answers are never stored by browsers or proxies (``Cache-Control: no-store``): they are
per-user and may carry unmasked personal data or tokens. Static files keep normal caching.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from cityops.config import Settings

STRICT_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data: blob:",
    "connect-src": "'self'",
    "font-src": "'self'",
    "object-src": "'none'",
    "frame-ancestors": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
}


def tile_origin(url: str | None) -> str | None:
    """The origin of a tile URL template for CSP: ``https://t{s}.x.cn/...`` → ``https://*.x.cn``."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    labels = parts.hostname.split(".")
    # Leaflet's {s} (sub-domain) placeholder: any sub-domain of the rest.
    host = ".".join(["*", *labels[1:]]) if "{" in labels[0] or "%7b" in labels[0] else parts.hostname
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def policy_text(policy: dict[str, str]) -> str:
    return "; ".join(f"{name} {value}" for name, value in policy.items())


def content_security_policy(settings: Settings, **overrides: str) -> str:
    policy = dict(STRICT_POLICY)
    origin = tile_origin(settings.map_tile_url)
    if origin:
        policy["img-src"] += f" {origin}"
    policy.update(overrides)
    return policy_text(policy)


def security_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    """The headers every response gets (unless the route set the same header itself)."""
    return [
        (b"content-security-policy", content_security_policy(settings).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"x-frame-options", b"DENY"),
    ]
