package models

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

func TestHashGate_AccountsThatFailLessGoFirst(t *testing.T) {
	g := newHashGate(1)
	release, err := g.acquire(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	old := passwordQueueWait.Swap(int64(5 * time.Second))
	defer passwordQueueWait.Store(old)

	order := make(chan int, 3)
	queue := func(priority int) {
		go func() {
			r, err := g.acquire(context.Background(), priority)
			if err != nil {
				order <- -1
				return
			}
			order <- priority
			r()
		}()
		// Wait until it is queued, so arrival order is known.
		for {
			if n, _ := g.ahead(1 << 30); n > 0 && queued(g, priority) {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	queue(4) // an account under attack, queued first
	queue(4)
	queue(0) // a member whose account is not failing
	release()
	got := []int{<-order, <-order, <-order}
	if fmt.Sprint(got) != "[0 4 4]" {
		t.Fatalf("slots went to priorities %v, want [0 4 4]", got)
	}
	if g.free != 1 || len(g.waiting) != 0 {
		t.Fatalf("after all released: %d free, %d waiting", g.free, len(g.waiting))
	}
}

func queued(g *hashGate, priority int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, w := range g.waiting {
		if w.priority == priority {
			n++
		}
	}
	return n > 0
}

func TestHashGate_AWaitThatEndsLeavesTheQueue(t *testing.T) {
	g := newHashGate(1)
	release, _ := g.acquire(context.Background(), 0)
	old := passwordQueueWait.Swap(int64(10 * time.Millisecond))
	defer passwordQueueWait.Store(old)
	if _, err := g.acquire(context.Background(), 0); err != ErrPasswordCheckBusy {
		t.Fatalf("a full gate answered %v, want ErrPasswordCheckBusy", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.acquire(ctx, 0); err != context.Canceled {
		t.Fatalf("an ended request answered %v", err)
	}
	if len(g.waiting) != 0 {
		t.Fatalf("%d waiters left behind", len(g.waiting))
	}
	release()
	if r, err := g.acquire(context.Background(), 0); err != nil {
		t.Fatalf("a free gate answered %v", err)
	} else {
		r()
	}
}

func TestVerifyPassword_HashesWithTwoLanesStillVerify(t *testing.T) {
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte("an older passphrase"), salt, 2, 64*1024, 2, 32)
	b64 := base64.RawStdEncoding
	encoded := fmt.Sprintf("$argon2id$v=19$m=65536,t=2,p=2$%s$%s", b64.EncodeToString(salt), b64.EncodeToString(key))
	if ok, err := VerifyPassword(context.Background(), encoded, "an older passphrase"); !ok || err != nil {
		t.Fatalf("a two-lane hash: %v, %v", ok, err)
	}
}
