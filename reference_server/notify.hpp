// Telling a service manager (systemd, Type=notify) how the server is doing: READY=1 once it
// listens, RELOADING=1 / READY=1 around a reload, STOPPING=1, and WATCHDOG=1 pings when the
// unit sets WatchdogSec. Through libsystemd's sd_notify when the build found libsystemd;
// without it, or outside systemd (no NOTIFY_SOCKET), each call does nothing.
#pragma once

#include <chrono>
#include <algorithm>
#include <cstdint>

#ifdef TOKENAUTH_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace tokenauth::server::notify {

inline void send(const char* state) noexcept {
#ifdef TOKENAUTH_HAVE_SYSTEMD
    sd_notify(0, state);
#else
    (void)state;
#endif
}

/// How often to ping the watchdog: half the interval the service manager asked for, or 0.
inline std::chrono::milliseconds watchdog_every() noexcept {
#ifdef TOKENAUTH_HAVE_SYSTEMD
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
        return std::chrono::milliseconds(std::max<std::uint64_t>(1, usec / 2000));
#endif
    return std::chrono::milliseconds(0);
}

}  // namespace tokenauth::server::notify
