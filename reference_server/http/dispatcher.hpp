// cpp-httplib's routing behind one call. The routes are registered on routes(), an
// httplib::Server used as a route table and nothing else (it never listens); handle() runs one
// complete request, already framed by the transport, through them and returns the response
// bytes. cpp-httplib offers that only as Server's protected process_request, whose signature
// changes between versions: this file is the one place that reaches it, and CMake accepts
// only the cpp-httplib versions it was written for (0.11.x).
#pragma once

#include <httplib.h>

#include <memory>
#include <string>

namespace tokenauth::server {

class request_dispatcher {
public:
    /// The two ends of the request's connection.
    struct endpoints {
        const std::string& peer_ip;
        int peer_port;
        const std::string& local_ip;
        int local_port;
    };

    request_dispatcher();
    ~request_dispatcher();
    request_dispatcher(const request_dispatcher&) = delete;
    request_dispatcher& operator=(const request_dispatcher&) = delete;

    /// The route table (and the handlers cpp-httplib calls around it: error, exception,
    /// pre-routing, default headers).
    httplib::Server& routes() noexcept;

    /// Routes request (one complete request) and appends the response to out. last: the
    /// response closes the connection. client_closes is set when the request asked for that.
    /// False when no response was written.
    bool handle(const std::string& request, std::string& out, const endpoints& ends, bool last, bool& client_closes);

private:
    class server;
    std::unique_ptr<server> server_;
};

}  // namespace tokenauth::server
