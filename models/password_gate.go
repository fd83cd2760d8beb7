package models

import (
	"container/heap"
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// ErrPasswordCheckBusy answers a password check that found every hashing
// slot taken for longer than the queue wait: the server is at capacity,
// and the caller is told to come back rather than queue without end.
var ErrPasswordCheckBusy = &Error{Kind: KindBusy,
	Message: "Ledgerdesk is checking many passwords right now. Wait a few seconds and try again."}

// passwordQueueWait is the longest a password check waits for a hashing
// slot before it is answered ErrPasswordCheckBusy.
var passwordQueueWait atomic.Int64

func init() { passwordQueueWait.Store(int64(2 * time.Second)) }

func queueWait() time.Duration { return time.Duration(passwordQueueWait.Load()) }

// hashGate bounds how many argon2id computations run at once, and decides
// who goes next. Each hash takes 64 MiB and a core for a tenth of a
// second; unbounded, a burst of sign-in attempts took the process to
// gigabytes and starved every other request. Slots leave one core to the
// pages.
//
// Waiting checks go in order of how often their account failed lately,
// then of arrival: a storm of guesses against some accounts queues behind
// itself, while a member whose account is not under attack, or a signed-in
// member confirming their password, goes next.
type hashGate struct {
	mu      sync.Mutex
	slots   int
	free    int
	waiting waitQueue
	arrived uint64
	// timeouts counts checks that waited the whole queue wait in vain.
	timeouts atomic.Int64
}

var passwordGate = newHashGate(max(1, runtime.GOMAXPROCS(0)-1))

// PasswordHashingMemory is the memory, in bytes, the password hashes
// running at once can take.
func PasswordHashingMemory() int64 { return int64(passwordGate.slots) * argonMemoryKiB << 10 }

func newHashGate(slots int) *hashGate { return &hashGate{slots: slots, free: slots} }

// PasswordHashingStats is the password-hashing gate as it stands.
type PasswordHashingStats struct {
	Slots   int // hashes that may run at once
	InUse   int // hashes running
	Waiting int // checks queued for a slot
	// Computed counts the hashes computed since the process started;
	// TimedOut the checks refused as busy after waiting for a slot.
	Computed int64
	TimedOut int64
}

// PasswordHashing reads the gate's state: it takes the gate's lock for a
// moment, no more.
func PasswordHashing() PasswordHashingStats {
	g := passwordGate
	g.mu.Lock()
	s := PasswordHashingStats{Slots: g.slots, InUse: g.slots - g.free, Waiting: len(g.waiting)}
	g.mu.Unlock()
	s.Computed = hashesComputed.Load()
	s.TimedOut = g.timeouts.Load()
	return s
}

// acquire waits, up to the queue wait or the context's end, for a slot.
// priority is the account's recent failures: lower goes first.
func (g *hashGate) acquire(ctx context.Context, priority int) (release func(), err error) {
	g.mu.Lock()
	if g.free > 0 && len(g.waiting) == 0 {
		g.free--
		g.mu.Unlock()
		return g.release, nil
	}
	g.arrived++
	w := &waiter{priority: priority, arrival: g.arrived, ready: make(chan struct{})}
	heap.Push(&g.waiting, w)
	g.mu.Unlock()

	t := time.NewTimer(queueWait())
	defer t.Stop()
	select {
	case <-w.ready:
		return g.release, nil
	case <-t.C:
		err = ErrPasswordCheckBusy
		g.timeouts.Add(1)
	case <-ctx.Done():
		err = ctx.Err()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if w.granted {
		// The slot came as the wait ended: hand it on.
		g.releaseLocked()
	} else {
		heap.Remove(&g.waiting, w.index)
	}
	return nil, err
}

func (g *hashGate) release() {
	g.mu.Lock()
	g.releaseLocked()
	g.mu.Unlock()
}

func (g *hashGate) releaseLocked() {
	if len(g.waiting) == 0 {
		g.free++
		return
	}
	w := heap.Pop(&g.waiting).(*waiter)
	w.granted = true
	close(w.ready)
}

// ahead is how many checks are queued that a check of priority would
// wait behind, and whether every slot is taken.
func (g *hashGate) ahead(priority int) (n int, full bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, w := range g.waiting {
		if w.priority <= priority {
			n++
		}
	}
	return n, g.free == 0
}

// hold takes every slot (tests of what a busy server answers).
func (g *hashGate) hold() (release func()) {
	for i := 0; i < g.slots; i++ {
		for _, err := g.acquire(context.Background(), -1); err != nil; _, err = g.acquire(context.Background(), -1) {
		}
	}
	return func() {
		for i := 0; i < g.slots; i++ {
			g.release()
		}
	}
}

type waiter struct {
	priority int
	arrival  uint64
	ready    chan struct{}
	granted  bool
	index    int
}

// waitQueue is a heap of waiters, fewest failures then earliest first.
type waitQueue []*waiter

func (q waitQueue) Len() int { return len(q) }
func (q waitQueue) Less(i, j int) bool {
	if q[i].priority != q[j].priority {
		return q[i].priority < q[j].priority
	}
	return q[i].arrival < q[j].arrival
}
func (q waitQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *waitQueue) Push(x any) {
	w := x.(*waiter)
	w.index = len(*q)
	*q = append(*q, w)
}
func (q *waitQueue) Pop() any {
	old := *q
	w := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return w
}

// passwordCheckBusy reports whether a check of priority would now wait
// past the queue wait. Answers that never hash (an unknown account, a
// throttled one) use it to say "busy" when a real check would.
func passwordCheckBusy(priority int) bool {
	ahead, full := passwordGate.ahead(priority)
	if !full {
		return false
	}
	typical := checkTimes.typical()
	return time.Duration(ahead/passwordGate.slots+1)*typical > queueWait()
}

// SetPasswordQueueWait changes the longest a password check waits for a
// hashing slot, until restore is called. Test suites lengthen it: on a
// loaded test machine two racing checks can queue past the serving bound,
// and the busy answer has its own tests (HoldPasswordHashSlots).
func SetPasswordQueueWait(wait time.Duration) (restore func()) {
	old := passwordQueueWait.Swap(int64(wait))
	return func() { passwordQueueWait.Store(old) }
}

// HoldPasswordHashSlots takes every password-hashing slot, as if the
// server were busy hashing, and makes a check wait at most wait for one,
// until release is called: for tests of what a busy server answers.
func HoldPasswordHashSlots(wait time.Duration) (release func()) {
	free := passwordGate.hold()
	old := passwordQueueWait.Swap(int64(wait))
	return func() {
		free()
		passwordQueueWait.Store(old)
	}
}
