package main

import "github.com/spf13/cobra"

func newViewCmd() *cobra.Command {
	return &cobra.Command{Use: "view FILE", Short: "Open a Chrome trace file in Perfetto UI"}
}
