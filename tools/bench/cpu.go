package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// userHZ is the unit of utime and stime in /proc/<pid>/stat: USER_HZ,
// which Linux fixes at 100 for user space whatever the kernel's HZ.
const userHZ = 100

// group is the CPU account of one process and every process below it
// (uvicorn's workers, a shim's child).
type group struct {
	name string
	// column is the report column the group adds to (several inference
	// processes share one).
	column string
	pid    int
}

// cpuSnapshot is utime+stime per pid, in clock ticks, of every group's
// process tree at one instant.
type cpuSnapshot map[string]map[int]int64

// procStat is what the bench reads from /proc/<pid>/stat.
type procStat struct {
	ppid  int
	ticks int64 // utime + stime, all threads of the process
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	st, err := parseStat(b)
	if err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return st, nil
}

// parseStat reads ppid, utime and stime from the text of /proc/<pid>/stat.
func parseStat(b []byte) (procStat, error) {
	// comm (field 2) is in parentheses and may hold spaces or ')': the
	// fixed fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, errors.New("no ')'")
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("%d fields", len(f)+2)
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	ut, err2 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err3 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return procStat{}, errors.New("unparsable fields")
	}
	return procStat{ppid: ppid, ticks: ut + st}, nil
}

// snapshot reads every group's tree. Descendants are found by walking
// parent pids over all of /proc, so a worker forked at any time counts.
func snapshot(groups []group) (cpuSnapshot, error) {
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	stats := map[int]procStat{}
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil {
			continue // exited meanwhile
		}
		stats[pid] = st
		children[st.ppid] = append(children[st.ppid], pid)
	}
	snap := cpuSnapshot{}
	for _, g := range groups {
		if _, ok := stats[g.pid]; !ok {
			return nil, fmt.Errorf("cpu: %s (pid %d) is not running", g.name, g.pid)
		}
		tree := map[int]int64{}
		for queue := []int{g.pid}; len(queue) > 0; queue = queue[1:] {
			pid := queue[0]
			tree[pid] = stats[pid].ticks
			queue = append(queue, children[pid]...)
		}
		snap[g.name] = tree
	}
	return snap, nil
}

// cpuDelta returns the CPU each group used between two snapshots. A
// process that appeared in between counts in full; one that exited in
// between is lost (none should: every process lives through the run).
func cpuDelta(before, after cpuSnapshot) map[string]time.Duration {
	d := map[string]time.Duration{}
	for name, tree := range after {
		var ticks int64
		for pid, t := range tree {
			ticks += t - before[name][pid]
		}
		d[name] = time.Duration(ticks) * time.Second / userHZ
	}
	return d
}

// processCount is how many processes the group's tree holds.
func (s cpuSnapshot) processCount(name string) int { return len(s[name]) }
