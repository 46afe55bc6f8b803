// Where backends find the dispatcher: its pid and latch, in a little shared memory (only when the library is
// preloaded). A commit that enqueued work sets the latch, so the dispatcher wakes at once, never polls.
#pragma once

namespace byo::pg {

void dispatcher_shmem_install_hooks();  // from _PG_init while preloading
void dispatcher_announce_self();        // in the worker, once connected
int dispatcher_pid();                   // 0 when no dispatcher runs (or no shared memory)
void wake_dispatcher();                 // sets the dispatcher's latch; no-op when there is none
void wake_dispatcher_at_commit();       // from the outbox trigger: wake once this transaction commits

}  // namespace byo::pg
