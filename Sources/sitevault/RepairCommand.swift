import ArgumentParser

struct RepairCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "repair", abstract: "Repair a damaged repository's index or snapshots.",
        discussion: """
        Run `sitevault check` first: it says which repair applies. Rebuild the index first (`repair index`), then \
        rewrite the snapshots whose data is still missing (`repair snapshots`). Both accept --dry-run.
        """,
        subcommands: [RepairIndexCommand.self, RepairSnapshotsCommand.self])
}
