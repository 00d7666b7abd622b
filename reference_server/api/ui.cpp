// GET / and /ui/<file>: the web UI, from the files compiled into the binary, with the
// security headers every UI response carries.
#include "../ui/assets.hpp"
#include "router.hpp"

namespace tokenauth::server {

namespace {

// Scripts and styles from this origin only (no inline script or style, no eval), the API
// as the only place to connect to, no framing, no plugins, no form posts elsewhere.
constexpr const char* content_security_policy =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

void serve(request_context& ctx, const ui::asset& a) {
    ctx.res.status = 200;
    ctx.res.set_content(std::string(reinterpret_cast<const char*>(a.data), a.size), a.content_type);
    ctx.res.set_header("Content-Security-Policy", content_security_policy);
    ctx.res.set_header("X-Content-Type-Options", "nosniff");
    ctx.res.set_header("Referrer-Policy", "no-referrer");
    ctx.res.set_header("X-Frame-Options", "DENY");
    ctx.res.set_header("Cross-Origin-Opener-Policy", "same-origin");
}

}  // namespace

void register_ui(router& r) {
    r.get("/", [](request_context& ctx) { serve(ctx, *ui::find_asset("index.html")); }, auth::none);
    // Browsers ask for /favicon.ico whatever the page names: the same icon.
    r.get("/favicon.ico", [](request_context& ctx) { serve(ctx, *ui::find_asset("favicon.svg")); }, auth::none);
    r.get(R"(/ui/([A-Za-z0-9_-]+\.(?:js|css|svg)))", [](request_context& ctx) {
        const ui::asset* a = ui::find_asset(ctx.capture(1));
        if (a == nullptr) throw not_found("no such file");
        serve(ctx, *a);
    }, auth::none);
}

}  // namespace tokenauth::server
