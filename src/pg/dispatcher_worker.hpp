// The dispatcher: a background worker that drains twilio.outbox to Twilio (see docs/delivery.md).
#pragma once

namespace byo::pg {

void register_dispatcher_worker();  // from _PG_init while preloading

}  // namespace byo::pg
