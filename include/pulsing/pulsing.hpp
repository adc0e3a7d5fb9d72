// pulsing: a distributed actor runtime. This one header gives the whole public API:
// Actor, PULSING_METHODS, Node / init / shutdown, ActorRef / AnyRef, Future, Task, Stream,
// Value (with PULSING_FIELDS for user structs) and the error taxonomy.
#pragma once

#include "membership/member.hpp"
#include "messaging/convert.hpp"
#include "messaging/error.hpp"
#include "messaging/json.hpp"
#include "messaging/value.hpp"
#include "runtime/actor.hpp"
#include "runtime/actor_ref.hpp"
#include "runtime/future.hpp"
#include "runtime/method_table.hpp"
#include "runtime/named_ref.hpp"
#include "runtime/node.hpp"
#include "runtime/stream.hpp"
#include "runtime/task.hpp"
#include "supervision/supervisor.hpp"
