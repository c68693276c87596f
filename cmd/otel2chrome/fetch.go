package main

import "github.com/spf13/cobra"

func newFetchCmd() *cobra.Command {
	return &cobra.Command{Use: "fetch", Short: "Fetch traces from a Jaeger query service and convert them"}
}
