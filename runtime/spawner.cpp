#include "runtime/spawner.hpp"

#include <fmt/format.h>

#include "messaging/convert.hpp"
#include "runtime/actor_ref.hpp"
#include "runtime/node_core.hpp"
#include "runtime/remote.hpp"

namespace pulsing::detail {

// ---------------------------------------------------------------- options on the wire

namespace {

std::int64_t ms(std::chrono::milliseconds d) { return d.count(); }

// The field `name` of `map` as a T, or `fallback` when the map has no such field.
template <typename T>
T field_or(const Value& map, std::string_view name, T fallback) {
  const Value* v = map.find(name);
  if (v == nullptr || v->is_null()) return fallback;
  return from_value_at<T>(*v, [name] { return fmt::format("field '{}'", name); });
}

std::chrono::milliseconds duration_field(const Value& map, std::string_view name, std::chrono::milliseconds fallback) {
  auto n = field_or<std::int64_t>(map, name, fallback.count());
  if (n < 0) throw ConversionError(fmt::format("field '{}': a duration is not negative, got {}", name, n));
  return std::chrono::milliseconds(n);
}

}  // namespace

Value spawn_options_to_value(const SpawnOptions& options) {
  const SupervisionOptions& s = options.supervision;
  return Value::Map{{"name", options.name},
                    {"mailbox_capacity", static_cast<std::uint64_t>(options.mailbox_capacity)},
                    {"reentrant", options.reentrant},
                    {"supervision", Value::Map{{"policy", std::string(to_string(s.policy))},
                                               {"max_restarts", s.max_restarts},
                                               {"restart_window_ms", ms(s.restart_window)},
                                               {"min_backoff_ms", ms(s.min_backoff)},
                                               {"max_backoff_ms", ms(s.max_backoff)},
                                               {"jitter", s.jitter},
                                               {"reset_after_ms", ms(s.reset_after)}}}};
}

SpawnOptions spawn_options_from_value(const Value& value) {
  if (!value.is_map()) throw ConversionError(fmt::format("spawn options: expected map, got {}", value.debug_string()));
  SpawnOptions options;
  options.name = field_or<std::string>(value, "name", "");
  options.mailbox_capacity = field_or<std::size_t>(value, "mailbox_capacity", 0);
  options.reentrant = field_or<bool>(value, "reentrant", false);
  if (const Value* s = value.find("supervision"); s != nullptr && !s->is_null()) {
    if (!s->is_map()) throw ConversionError("field 'supervision': expected map");
    SupervisionOptions& out = options.supervision;
    const SupervisionOptions defaults;
    auto policy = field_or<std::string>(*s, "policy", "never");
    auto parsed = parse_restart_policy(policy);
    if (!parsed) throw ConversionError(fmt::format("field 'policy': never, on_failure or always, not '{}'", policy));
    out.policy = *parsed;
    out.max_restarts = field_or<int>(*s, "max_restarts", defaults.max_restarts);
    out.restart_window = duration_field(*s, "restart_window_ms", defaults.restart_window);
    out.min_backoff = duration_field(*s, "min_backoff_ms", defaults.min_backoff);
    out.max_backoff = duration_field(*s, "max_backoff_ms", defaults.max_backoff);
    out.jitter = field_or<double>(*s, "jitter", defaults.jitter);
    if (!(out.jitter >= 0 && out.jitter <= 1)) throw ConversionError("field 'jitter': between 0 and 1");
    out.reset_after = duration_field(*s, "reset_after_ms", defaults.reset_after);
  }
  return options;
}

// ---------------------------------------------------------------- LoadAnnouncer

bool LoadAnnouncer::due(Clock::time_point now, std::uint64_t figure) {
  if (last_ && now - *last_ < interval_) return false;
  const std::uint64_t step = std::max(kMinStep, announced_ / 4);
  const std::uint64_t moved = figure > announced_ ? figure - announced_ : announced_ - figure;
  if (moved < step) return false;
  announced_ = figure;
  last_ = now;
  return true;
}

// ---------------------------------------------------------------- Spawner

Future<AnyRef> Spawner::spawn(std::string kind, const SpawnOptions& options, std::vector<Value> args,
                              std::optional<LocalBuild> local) {
  auto chosen = chooser_.choose(node_.members(), node_.self_name(), kind, options.placement);
  if (!chosen.ok()) return Future<AnyRef>::ready(chosen.failure());
  const KindHost& host = chosen.value();
  if (host.self) {  // with no network, this node is the only member
    if (local) return Future<AnyRef>::ready(node_.spawn_local(*local->methods, options, std::move(local->factory)));
    return Future<AnyRef>::ready(this->host(kind, options, std::move(args)));
  }
  return spawn_at(host, kind, options, args);
}

Result<AnyRef> Spawner::host(std::string_view kind, const SpawnOptions& options, std::vector<Value>&& args) {
  auto found = node_.kinds().find(kind);
  if (!found) {
    auto here = node_.kinds().announcement();
    return make_failure<RuntimeError>(
        RuntimeErrorKind::kRefused,
        fmt::format("node {} does not host kind '{}' (its kinds: {})", node_.self_name(), kind,
                    here.empty() ? "none" : here));
  }
  auto factory = found->bind(std::move(args));
  if (!factory.ok()) return factory.failure();
  return node_.spawn_local(*found->methods, options, std::move(factory.value()));
}

Future<AnyRef> Spawner::spawn_at(const KindHost& host, const std::string& kind, const SpawnOptions& options,
                                 const std::vector<Value>& args) {
  auto core = node_.shared_from_this();
  auto peer = node_.remote()->peer("tcp://" + host.address);
  auto service = RemoteActor::by_name(core, peer->endpoint(), kPlacementServiceName, "PlacementService");
  auto promise = std::make_shared<Promise<AnyRef>>();
  auto future = promise->future();
  auto [slot, answer] = make_value_reply();
  auto timeout = options.timeout.count() > 0 ? options.timeout : node_.default_ask_timeout();
  answer.then([promise, core, peer, kind, member = host.member, timeout](Result<Value> r) {
    if (!r.ok()) {
      const Failure& f = r.failure();
      const auto* runtime = dynamic_cast<const RuntimeError*>(f.error.get());
      if (f.category == ErrorCategory::kTimeout) {
        promise->fail(make_failure<TimeoutError>(fmt::format("spawn of {} on {}", kind, member), timeout.count()));
      } else if (runtime != nullptr && runtime->kind() == RuntimeErrorKind::kActorNotFound) {
        // A node without the service (not serving placements) refuses by not having it.
        promise->fail(make_failure<RuntimeError>(RuntimeErrorKind::kRefused,
                                                 fmt::format("node {} takes no spawns: {}", member, f.describe())));
      } else {
        promise->fail(f);
      }
      return;
    }
    try {
      const Value& v = r.value();
      if (const Value* error = v.find("error")) {
        promise->fail(failure_from_value(*error));
        return;
      }
      const Value* at = v.find("address");
      const Value* cls = v.find("class");
      if (at == nullptr || cls == nullptr) throw ConversionError("no address or class in the answer");
      ActorAddress address = at->as_actor();
      std::string class_name = cls->as_text();
      std::string name = address.actor.value != 0 ? field_or<std::string>(v, "name", "") : "";
      promise->set_value(AnyRef(std::make_shared<RemoteActor>(core, peer, std::move(address), std::move(name),
                                                              std::move(class_name))));
    } catch (const std::exception& bad) {
      promise->fail(make_failure<RuntimeError>(
          RuntimeErrorKind::kProtocol, fmt::format("node {} answered a spawn of {} unreadably: {}", member, kind, bad.what())));
    }
  });
  service->ask("place", ValueArgs({Value(kind), spawn_options_to_value(options), Value(Value::List(args.begin(), args.end()))}),
               timeout, std::move(slot));
  return future;
}

}  // namespace pulsing::detail
