package converter

import "sync"

// inOrder takes jobs from next until it reports no more (or an error), runs
// work on each on up to workers goroutines, and hands the results to use in
// the jobs' order, holding at most 2*workers results at once. It returns
// use's first error, or else next's, once the work under way has ended: no
// goroutine outlives the call. With one worker it runs everything in turn
// on the caller's goroutine.
func inOrder[J, T any](workers int, next func() (J, bool, error), work func(J) T, use func(T) error) error {
	if workers < 2 {
		for {
			j, ok, err := next()
			if err != nil || !ok {
				return err
			}
			if err := use(work(j)); err != nil {
				return err
			}
		}
	}
	type job struct {
		j   J
		out chan T
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	defer func() {
		close(jobs)
		wg.Wait()
	}()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				j.out <- work(j.j) // buffered: never blocks
			}
		}()
	}
	var pending []chan T
	var nextErr error
	more := true
	for more || len(pending) > 0 {
		for more && len(pending) < 2*workers {
			j, ok, err := next()
			if err != nil || !ok {
				more, nextErr = false, err
				break
			}
			out := make(chan T, 1)
			jobs <- job{j, out} // taken once a worker is free
			pending = append(pending, out)
		}
		if len(pending) == 0 {
			break
		}
		r := <-pending[0]
		pending = pending[1:]
		if err := use(r); err != nil {
			return err
		}
	}
	return nextErr
}
