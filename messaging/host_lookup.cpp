#include "messaging/host_lookup.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netdb.h>
#include <sys/socket.h>

#include <stdexcept>
#include <thread>
#include <utility>


namespace pulsing {

std::string lookup_ipv4(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0) throw std::runtime_error(::gai_strerror(rc));
  char text[INET_ADDRSTRLEN] = {};
  const auto* in = reinterpret_cast<const sockaddr_in*>(found->ai_addr);
  const char* ok = ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
  ::freeaddrinfo(found);
  if (ok == nullptr) throw std::runtime_error("the address found cannot be written out");
  return text;
}

bool is_numeric_host(std::string_view host) {
  if (host.starts_with('[')) return true;
  in_addr unused{};
  return ::inet_pton(AF_INET, std::string(host).c_str(), &unused) == 1;
}

bool is_wildcard_host(std::string_view host) {
  return host == "0.0.0.0" || host == "[::]" || host == "::" || host == "*";
}

bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  return host.starts_with("127.") && is_numeric_host(host);
}

std::shared_ptr<HostLookup> HostLookup::start(std::string host, LookupFunction lookup, std::function<void()> wake) {
  std::shared_ptr<HostLookup> pending(new HostLookup(std::move(host)));
  if (!lookup) lookup = lookup_ipv4;
  std::thread([pending, lookup = std::move(lookup), wake = std::move(wake)] {
    std::string address, error;
    try {
      address = lookup(pending->host_);
    } catch (const std::exception& e) {
      error = e.what();
    }
    {
      std::lock_guard lock(pending->mutex_);
      pending->address_ = std::move(address);
      pending->error_ = std::move(error);
      pending->done_ = true;
    }
    if (wake) wake();
  }).detach();
  return pending;
}

bool HostLookup::done() const {
  std::lock_guard lock(mutex_);
  return done_;
}

std::string HostLookup::address() const {
  std::lock_guard lock(mutex_);
  return address_;
}

std::string HostLookup::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

}  // namespace pulsing
