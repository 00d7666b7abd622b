// A job run every interval on its own thread until stop(), and once more at stop() when asked
// (the last-used times are written then; nothing is lost at a clean shutdown).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace tokenauth::server {

class periodic {
public:
    enum class at_stop { skip, run_once_more };

    periodic(std::chrono::milliseconds interval, std::function<void()> job, at_stop last)
        : interval_(interval), job_(std::move(job)), last_(last), thread_([this] { run(); }) {}
    ~periodic() { stop(); }
    periodic(const periodic&) = delete;
    periodic& operator=(const periodic&) = delete;

    void stop() {
        {
            std::lock_guard lock(mu_);
            if (stop_) return;
            stop_ = true;
        }
        cv_.notify_all();
        thread_.join();
        if (last_ == at_stop::run_once_more) job_();
    }

private:
    void run() {
        std::unique_lock lock(mu_);
        while (!cv_.wait_for(lock, interval_, [this] { return stop_; })) {
            lock.unlock();
            job_();
            lock.lock();
        }
    }

    std::chrono::milliseconds interval_;
    std::function<void()> job_;
    at_stop last_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::thread thread_;  // last: started once the rest is ready
};

}  // namespace tokenauth::server
