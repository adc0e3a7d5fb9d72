// A stateful actor: a session store. Its state lives in the actor and needs no lock, because
// the actor handles one message at a time. Sessions are a struct declared with PULSING_FIELDS,
// so they travel as typed C++ values to C++ callers and as maps to callers by name.
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

#include <pulsing/pulsing.hpp>

#include "expect.hpp"

// [guide:session-manager]
struct Session {
  std::string user_id;
  std::map<std::string, std::string> data;
  PULSING_FIELDS(Session, user_id, data)
};

class SessionManager : public pulsing::Actor {
 public:
  std::string create_session(const std::string& user_id) {
    // Unique within this actor (the seed uses a UUID).
    std::string session_id = "session-" + std::to_string(++sessions_created_);
    sessions_[session_id] = Session{user_id, {}};
    return session_id;
  }

  std::optional<Session> get_session(const std::string& session_id) const {
    auto it = sessions_.find(session_id);
    if (it == sessions_.end()) return std::nullopt;
    return it->second;
  }

  void put(const std::string& session_id, const std::string& key, const std::string& value) {
    auto it = sessions_.find(session_id);
    if (it == sessions_.end()) throw pulsing::BusinessError(404, "no session " + session_id);
    it->second.data[key] = value;
  }

  PULSING_METHODS(SessionManager, create_session, get_session, put)

 private:
  std::unordered_map<std::string, Session> sessions_;
  int sessions_created_ = 0;
};
// [/guide:session-manager]

int main() {
  pulsing::init();
  auto sessions = SessionManager::spawn({.name = "sessions"}).get();

  // [guide:session-use]
  std::string id = sessions.ask(&SessionManager::create_session, "alice").get();
  sessions.tell(&SessionManager::put, id, "theme", "dark");
  std::optional<Session> session = sessions.ask(&SessionManager::get_session, id).get();
  // [/guide:session-use]
  expect(session && session->user_id == "alice" && session->data["theme"] == "dark",
         "the session holds what was put into it");
  std::cout << "created " << id << " for " << session->user_id << ", theme " << session->data["theme"] << "\n";

  auto missing = sessions.ask(&SessionManager::get_session, "session-42").get();
  std::cout << "session-42: " << (missing ? "found" : "none (std::nullopt)") << "\n";
  expect(!missing, "an unknown session is nullopt");

  try {
    sessions.ask(&SessionManager::put, "session-42", "theme", "light").get();
    expect(false, "put on an unknown session fails");
  } catch (const pulsing::BusinessError& e) {
    std::cout << "put on session-42: business error " << e.code() << ": " << e.message() << "\n";
  }

  // A caller by name (another process, the CLI) sees the struct as a map, and nullopt as null.
  pulsing::AnyRef untyped = sessions;
  pulsing::Value as_map = untyped.ask("get_session", {id}).get();
  std::cout << "by name: " << pulsing::to_json_text(as_map) << "\n";
  expect(as_map.find("user_id") && as_map.find("user_id")->as_text() == "alice", "the map has the fields");
  expect(untyped.ask("get_session", {"session-42"}).get().is_null(), "nullopt arrives as null");

  pulsing::shutdown();
}
