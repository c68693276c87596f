package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/otel2chrome/otel2chrome/converter/check"
)

// fileName matches the chrome exporter's per-trace files:
// <service>-<trace id>[.<part>].json.
var fileName = regexp.MustCompile(`^(.+)-([0-9a-f]{32})(?:\.([0-9]+))?\.json$`)

// tally is what the backends wrote.
type tally struct {
	root     string // the directory holding the backends' directories
	backends []backendTally
	traces   map[string]*traceTally
	// spanFiles counts the files each span ID is in: more than one is a
	// span written twice.
	spanFiles map[string]int
	// dupInFile counts slices whose span ID another slice of the same file
	// has.
	dupInFile int
}

// backendTally is one backend's directory.
type backendTally struct {
	files, traces, spans int
	// tmp counts temporary files a killed backend left (removed by the
	// exporter at a start an hour later); they are not trace files.
	tmp int
}

// traceTally is one trace over every directory.
type traceTally struct {
	spans    int
	files    []string // relative to tally.root
	backends map[int]bool
	services map[string]bool // the file names' service part
	// perBackend counts the files on each backend, and rootless those of
	// them without the trace's root span (a span without a parent).
	perBackend, rootless map[int]int
}

// count validates every file in dirs with the converter's checker and tallies
// traces and spans, per backend and per trace.
func count(dirs []string) (*tally, error) {
	t := &tally{root: filepath.Dir(dirs[0]), traces: map[string]*traceTally{}, spanFiles: map[string]int{}}
	var mu sync.Mutex
	for i, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		var bt backendTally
		seen := map[string]bool{}
		names := make(chan string)
		errs := make(chan error, len(entries))
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for name := range names {
					if strings.HasPrefix(name, ".otel2chrome-tmp-") {
						mu.Lock()
						bt.tmp++
						mu.Unlock()
						continue
					}
					m := fileName.FindStringSubmatch(name)
					if m == nil {
						errs <- fmt.Errorf("%s: not a per-trace file name", filepath.Join(dir, name))
						continue
					}
					rep, err := check.ValidateFile(filepath.Join(dir, name))
					if err != nil {
						errs <- fmt.Errorf("%s: %w", filepath.Join(dir, name), err)
						continue
					}
					mu.Lock()
					tt := t.traces[m[2]]
					if tt == nil {
						tt = &traceTally{backends: map[int]bool{}, services: map[string]bool{},
							perBackend: map[int]int{}, rootless: map[int]int{}}
						t.traces[m[2]] = tt
					}
					tt.spans += len(rep.SpanSlices)
					tt.files = append(tt.files, filepath.Join(filepath.Base(dir), name))
					tt.backends[i] = true
					tt.services[m[1]] = true
					tt.perBackend[i]++
					root, withID := false, 0
					for _, sl := range rep.Slices {
						if _, ok := sl.Args["span_id"].(string); ok {
							withID++
							_, hasParent := sl.Args["parent_span_id"]
							root = root || !hasParent
						}
					}
					if !root {
						tt.rootless[i]++
					}
					t.dupInFile += withID - len(rep.SpanSlices)
					for id := range rep.SpanSlices {
						t.spanFiles[id]++
					}
					bt.files++
					bt.spans += len(rep.SpanSlices)
					if !seen[m[2]] {
						seen[m[2]] = true
						bt.traces++
					}
					mu.Unlock()
				}
			}()
		}
		for _, e := range entries {
			names <- e.Name()
		}
		close(names)
		wg.Wait()
		close(errs)
		var msgs []string
		for err := range errs {
			msgs = append(msgs, err.Error())
		}
		if len(msgs) > 0 {
			sort.Strings(msgs)
			return nil, fmt.Errorf("%d bad files, first: %s", len(msgs), msgs[0])
		}
		t.backends = append(t.backends, bt)
	}
	return t, nil
}

// duplicated returns how many span IDs are in more than one file, plus the
// slices repeating a span ID within one file.
func (t *tally) duplicated() int {
	n := t.dupInFile
	for _, c := range t.spanFiles {
		if c > 1 {
			n++
		}
	}
	return n
}

// splitsExpected returns, per backend, how many traces its chrome exporter
// should count in otelcol_exporter_chrome_traces_split once it has released
// every trace: those it wrote in more than one file, and those whose one file
// lacks the root span (each exporter counts a trace once).
func (t *tally) splitsExpected() []int {
	out := make([]int, len(t.backends))
	for _, tt := range t.traces {
		for b, files := range tt.perBackend {
			if files > 1 || tt.rootless[b] > 0 {
				out[b]++
			}
		}
	}
	return out
}

// split returns the traces in more than one file, on one backend or more.
func (t *tally) split() map[string]*traceTally {
	out := map[string]*traceTally{}
	for id, tt := range t.traces {
		if len(tt.files) > 1 {
			out[id] = tt
		}
	}
	return out
}

// verdict compares the SDK traces sent with what was written.
type verdict struct {
	whole   int // in one file on one backend, every span
	lost    int // in no file
	partial int // fewer spans than sent, in one file
	split   int // in more than one file or on more than one backend
	// lostSpans counts the spans the balancer accepted and no file holds;
	// rejected those it never accepted (the sender's export failed).
	lostSpans, rejected int
}

func (v verdict) String() string {
	s := fmt.Sprintf("%d whole, %d lost entirely, %d partial, %d split over files; %d spans lost",
		v.whole, v.lost, v.partial, v.split, v.lostSpans)
	if v.rejected > 0 {
		s += fmt.Sprintf(" (besides %d spans whose export the balancer refused)", v.rejected)
	}
	return s
}

// judge returns the verdict on the traces in sent, and calls each, when not
// nil, with each trace's ID, what was sent and what was found (nil if none).
func (t *tally) judge(sent map[string]sentTrace, each func(id string, s sentTrace, got *traceTally)) verdict {
	var v verdict
	for id, s := range sent {
		got := t.traces[id]
		if each != nil {
			each(id, s, got)
		}
		v.rejected += s.rejected
		accepted := s.spans - s.rejected
		switch {
		case got == nil:
			v.lost++
			v.lostSpans += accepted
			continue
		case len(got.files) > 1 || len(got.backends) > 1:
			v.split++
		case got.spans == s.spans:
			v.whole++
		default:
			v.partial++
		}
		v.lostSpans += max(accepted-got.spans, 0)
	}
	return v
}

// report prints one line per backend.
func (t *tally) report(w func(format string, args ...any)) {
	for i, b := range t.backends {
		w("backend-%d: %d traces, %d spans, %d files, %d temporary files", i+1, b.traces, b.spans, b.files, b.tmp)
	}
}
