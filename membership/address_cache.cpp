#include "membership/address_cache.hpp"

#include <arpa/inet.h>

#include <array>
#include <cassert>

namespace pulsing::membership {

AddressCache::AddressCache(Options options) : options_(options) { assert(options_.max_entries > 0); }

AddressCache::Use AddressCache::use(const std::string& address, Clock::time_point now) {
  if (is_numeric(address)) return {};
  auto it = entries_.find(address);
  if (it == entries_.end()) {
    if (entries_.size() >= options_.max_entries) forget_least_recent();
    lru_.push_front(address);
    it = entries_.emplace(address, Entry{}).first;
    it->second.lru = lru_.begin();
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);  // the most recently used now
  }
  Entry& entry = it->second;
  Use use{entry.endpoint, false};
  const bool wanted = !entry.endpoint || entry.stale || now >= entry.expires;
  if (wanted && !entry.in_flight && now >= entry.next_lookup) {
    entry.in_flight = true;
    use.lookup_due = true;
  }
  return use;
}

void AddressCache::resolved(const std::string& address, const std::string& endpoint, Clock::time_point now) {
  auto it = entries_.find(address);
  if (it == entries_.end()) return;  // forgotten meanwhile
  Entry& entry = it->second;
  if (entry.endpoint != endpoint) {
    forget_reverse(address, entry);
    entry.endpoint = endpoint;
  }
  reverse_[endpoint] = address;  // the one resolved last wins
  entry.expires = now + options_.ttl;
  entry.next_lookup = now + options_.retry_after;
  entry.stale = false;
  entry.in_flight = false;
  entry.failures = 0;
}

std::uint32_t AddressCache::failed(const std::string& address, Clock::time_point now) {
  auto it = entries_.find(address);
  if (it == entries_.end()) return 0;
  Entry& entry = it->second;
  entry.in_flight = false;
  entry.next_lookup = now + options_.retry_after;
  return ++entry.failures;
}

void AddressCache::invalidate(const std::string& address) {
  auto it = entries_.find(address);
  if (it == entries_.end() || it->second.in_flight) return;
  it->second.stale = true;
}

std::optional<std::string> AddressCache::address_of(const std::string& endpoint) const {
  auto it = reverse_.find(endpoint);
  if (it == reverse_.end()) return std::nullopt;
  return it->second;
}

bool AddressCache::is_numeric(std::string_view address) {
  auto colon = address.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (auto scope = host.find('%'); scope != std::string_view::npos) host = host.substr(0, scope);
  std::string text(host);  // inet_pton wants it terminated
  std::array<unsigned char, 16> bytes{};
  return ::inet_pton(AF_INET, text.c_str(), bytes.data()) == 1 || ::inet_pton(AF_INET6, text.c_str(), bytes.data()) == 1;
}

void AddressCache::forget_least_recent() {
  const std::string address = lru_.back();
  auto it = entries_.find(address);
  forget_reverse(address, it->second);
  entries_.erase(it);
  lru_.pop_back();
}

void AddressCache::forget_reverse(const std::string& address, const Entry& entry) {
  if (!entry.endpoint) return;
  auto it = reverse_.find(*entry.endpoint);
  if (it != reverse_.end() && it->second == address) reverse_.erase(it);
}

}  // namespace pulsing::membership
