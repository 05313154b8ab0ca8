import Testing

/// Every suite that talks to the ssh peer, run one test at a time: one of them takes the peer's
/// network link down (the cut test), which would fail any other running at that moment.
@Suite(.serialized, .enabled(if: SSHPeer.available))
enum SSHVaultSuites {}
