#include "pg/dispatcher_shmem.hpp"

extern "C" {
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
}

#include "pg/pg_compat.hpp"

namespace byo::pg {

namespace {

struct DispatcherSlot {
    slock_t mutex;
    int pid;      // 0: none
    int procno;   // index into ProcGlobal->allProcs (my_proc_number())
};

DispatcherSlot* slot = nullptr;
shmem_request_hook_type prev_request = nullptr;
shmem_startup_hook_type prev_startup = nullptr;
bool wake_pending = false;
bool xact_callback_registered = false;

void request_shmem() {
    if (prev_request) prev_request();
    RequestAddinShmemSpace(MAXALIGN(sizeof(DispatcherSlot)));
}

void startup_shmem() {
    if (prev_startup) prev_startup();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found = false;
    slot = static_cast<DispatcherSlot*>(ShmemInitStruct("byo_twilio dispatcher", sizeof(DispatcherSlot), &found));
    if (!found) {
        SpinLockInit(&slot->mutex);
        slot->pid = 0;
        slot->procno = -1;
    }
    LWLockRelease(AddinShmemInitLock);
}

void forget_self(int, Datum) {
    if (!slot) return;
    SpinLockAcquire(&slot->mutex);
    if (slot->pid == MyProcPid) {
        slot->pid = 0;
        slot->procno = -1;
    }
    SpinLockRelease(&slot->mutex);
}

// Commit: wake the dispatcher for the rows this transaction made visible. Abort: they are gone; stay quiet.
void on_xact(XactEvent event, void*) {
    if (!wake_pending) return;
    if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT) {
        wake_pending = false;
        wake_dispatcher();
    } else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) {
        wake_pending = false;
    }
}

}  // namespace

void dispatcher_shmem_install_hooks() {
    prev_request = shmem_request_hook;
    shmem_request_hook = request_shmem;
    prev_startup = shmem_startup_hook;
    shmem_startup_hook = startup_shmem;
}

void dispatcher_announce_self() {
    if (!slot) return;
    SpinLockAcquire(&slot->mutex);
    slot->pid = MyProcPid;
    slot->procno = my_proc_number();
    SpinLockRelease(&slot->mutex);
    on_shmem_exit(forget_self, 0);
}

int dispatcher_pid() {
    if (!slot) return 0;
    SpinLockAcquire(&slot->mutex);
    int pid = slot->pid;
    SpinLockRelease(&slot->mutex);
    return pid;
}

void wake_dispatcher() {
    if (!slot) return;
    SpinLockAcquire(&slot->mutex);
    int procno = slot->pid ? slot->procno : -1;
    SpinLockRelease(&slot->mutex);
    if (procno >= 0) SetLatch(&proc_by_number(procno)->procLatch);
}

void wake_dispatcher_at_commit() {
    if (!xact_callback_registered) {
        RegisterXactCallback(on_xact, nullptr);
        xact_callback_registered = true;
    }
    wake_pending = true;
}

}  // namespace byo::pg
