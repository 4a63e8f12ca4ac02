package stack

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Restart is how [Stack.Supervise] restarts a process that died.
type Restart struct {
	// Initial is the wait before the first restart (default 250ms); each
	// further crash in a row doubles it, up to Max (default 8s).
	Initial, Max time.Duration
	// Stable is how long a run must last for its crash to count as the
	// first in a row again (default 30s).
	Stable time.Duration
	// A process that crashes MaxCrashes times within Window is given up on
	// (defaults 5 and 1 minute): it stays down, the others stay up.
	MaxCrashes int
	Window     time.Duration
}

func (r *Restart) defaults() {
	if r.Initial <= 0 {
		r.Initial = 250 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = 8 * time.Second
	}
	if r.Stable <= 0 {
		r.Stable = 30 * time.Second
	}
	if r.MaxCrashes <= 0 {
		r.MaxCrashes = 5
	}
	if r.Window <= 0 {
		r.Window = time.Minute
	}
}

// backoff is the wait before restart number n (1-based) of a row.
func (r Restart) backoff(n int) time.Duration {
	d := r.Initial
	for i := 1; i < n && d < r.Max; i++ {
		d *= 2
	}
	return min(d, r.Max)
}

// EventKind is what happened to a supervised process.
type EventKind string

// Event kinds.
const (
	// Died: the process exited without being asked to; a restart follows
	// after Backoff.
	Died EventKind = "died"
	// Restarted: it runs again and passed its health check.
	Restarted EventKind = "restarted"
	// Unhealthy: it was restarted but did not pass its health check in
	// time; it keeps running and is restarted if it dies.
	Unhealthy EventKind = "unhealthy"
	// GaveUp: it crashed too often; it stays down.
	GaveUp EventKind = "gave up"
)

// Event is one thing the supervisor saw or did.
type Event struct {
	Proc string
	Kind EventKind
	// Pid is the process that died (Died, GaveUp) or the new one.
	Pid int
	// Err is how it exited (Died, GaveUp) or the failed check (Unhealthy).
	Err error
	// Ran is how long the run that ended lasted.
	Ran time.Duration
	// Backoff is the wait before the restart (Died).
	Backoff time.Duration
	// Crashes counts the crashes within the Restart window.
	Crashes int
	// Log is the process's log file.
	Log string
}

// String renders the event as one log line.
func (e Event) String() string {
	switch e.Kind {
	case Died:
		return fmt.Sprintf("%s (pid %d) died after %s: %v; restarting in %s (crash %d within the window); log %s",
			e.Proc, e.Pid, e.Ran.Round(time.Millisecond), e.Err, e.Backoff, e.Crashes, e.Log)
	case Restarted:
		return fmt.Sprintf("%s restarted (pid %d) and healthy", e.Proc, e.Pid)
	case Unhealthy:
		return fmt.Sprintf("%s restarted (pid %d) but not healthy: %v", e.Proc, e.Pid, e.Err)
	case GaveUp:
		return fmt.Sprintf("%s (pid %d) crashed %d times within the window, last: %v; giving up on it, the rest stays up; log %s",
			e.Proc, e.Pid, e.Crashes, e.Err, e.Log)
	}
	return fmt.Sprintf("%s: %s", e.Proc, e.Kind)
}

// Supervise restarts every process of the stack that dies on its own,
// after a backoff that doubles with each crash in a row (capped), and
// gives up on one that keeps crashing without touching the others.
// Processes stopped on purpose (Stop, StopProc, KillProc) are left down
// until StartProc. It reports each event to report (called from several
// goroutines, one at a time) and returns when ctx ends.
func (s *Stack) Supervise(ctx context.Context, r Restart, report func(Event)) {
	r.defaults()
	var mu sync.Mutex
	emit := func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		report(e)
	}
	var wg sync.WaitGroup
	for _, name := range s.order {
		pr := s.procs[name]
		wg.Go(func() { s.supervise(ctx, pr, r, emit) })
	}
	wg.Wait()
}

func (s *Stack) supervise(ctx context.Context, p *Proc, r Restart, emit func(Event)) {
	var crashes []time.Time
	inRow := 0
	for {
		p.mu.Lock()
		done, gen, pid, started := p.done, p.gen, 0, p.started
		if p.cmd != nil {
			pid = p.cmd.Process.Pid
		}
		p.mu.Unlock()
		if done == nil {
			return // never started
		}
		select {
		case <-ctx.Done():
			return
		case <-done:
		}
		p.mu.Lock()
		held, exitErr := p.held, p.err
		p.mu.Unlock()
		if held {
			// Stopped on purpose: wait until someone starts it again.
			if !waitStarted(ctx, p, gen) {
				return
			}
			continue
		}
		now := time.Now()
		ran := now.Sub(started)
		if ran >= r.Stable {
			inRow = 0
		}
		inRow++
		crashes = append(crashes, now)
		for len(crashes) > 0 && now.Sub(crashes[0]) > r.Window {
			crashes = crashes[1:]
		}
		ev := Event{Proc: p.Name, Pid: pid, Err: exitErr, Ran: ran, Crashes: len(crashes), Log: s.rel(p.Log)}
		if len(crashes) >= r.MaxCrashes {
			ev.Kind = GaveUp
			emit(ev)
			return
		}
		ev.Kind, ev.Backoff = Died, r.backoff(inRow)
		emit(ev)
		select {
		case <-ctx.Done():
			return
		case <-time.After(ev.Backoff):
		}
		if !p.restart(gen) {
			// Stopped or started by someone else meanwhile.
			continue
		}
		hctx, cancel := context.WithTimeout(ctx, s.cfg.StartTimeout)
		err := p.waitHealthy(hctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if p.Running() {
				emit(Event{Proc: p.Name, Kind: Unhealthy, Pid: p.Pid(), Err: err, Log: s.rel(p.Log)})
			}
			continue // if it exited, the next round counts the crash
		}
		emit(Event{Proc: p.Name, Kind: Restarted, Pid: p.Pid(), Log: s.rel(p.Log)})
	}
}

// restart starts p again unless it was stopped on purpose or started by
// someone else since run gen.
func (p *Proc) restart(gen int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held || p.gen != gen {
		return false
	}
	return p.startLocked() == nil
}

// waitStarted waits until p has been started after run gen.
func waitStarted(ctx context.Context, p *Proc, gen int) bool {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		p.mu.Lock()
		g := p.gen
		p.mu.Unlock()
		if g != gen {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}
