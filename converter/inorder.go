package converter

import "sync"

// inOrder runs work(0), work(1), ... work(n-1) on up to workers goroutines
// and hands the results to use in that order, holding at most 2*workers
// results at once. It returns use's first error, once the work under way has
// ended: no goroutine outlives the call.
func inOrder[T any](workers, n int, work func(k int) T, use func(T) error) error {
	type job struct {
		k   int
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
				j.out <- work(j.k) // buffered: never blocks
			}
		}()
	}
	var pending []chan T
	for next := 0; next < n || len(pending) > 0; {
		for next < n && len(pending) < 2*workers {
			out := make(chan T, 1)
			jobs <- job{next, out} // taken once a worker is free
			pending = append(pending, out)
			next++
		}
		r := <-pending[0]
		pending = pending[1:]
		if err := use(r); err != nil {
			return err
		}
	}
	return nil
}
