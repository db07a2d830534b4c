// Command tallyrun runs tally's side of one benchmark run (the backfill job or the
// decode-only floor) in a process that links nothing else, so that its peak RSS is
// tally's own. tallybench starts it with the run described in TALLYBENCH_CHILD.
package main

import (
	"fmt"
	"os"

	"github.com/tallyhq/tally/bench/tallyrun"
)

func main() {
	tallyrun.ServeChild(tallyrun.RunInProcess)
	fmt.Fprintln(os.Stderr, "tallyrun: started without", tallyrun.ChildEnv, "; run tallybench instead")
	os.Exit(2)
}
