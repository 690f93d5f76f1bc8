#if Studio
import ArgumentParser
import Foundation
import StylizeKit
import StylizeStudio

struct StudioCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "studio",
        abstract: "A web page on this machine to pick styles, scrub a live preview, set keyframes and render.",
        discussion: "Open the address it prints in a browser. The page opens clips, pictures and frame folders under --root, and keeps uploads, renders and its render queue in stylize-studio/ there. Nothing leaves the machine: the page is served from this binary and the server listens on 127.0.0.1 unless --host says otherwise. Ctrl-C stops it; a render it was running starts again at the next start."
    )

    @Option(help: "Port to listen on (0 picks a free one).")
    var port = 8080

    @Option(help: "Address to listen on. Anything but 127.0.0.1 or ::1 lets other machines open the studio and read the files under --root.")
    var host = "127.0.0.1"

    @Option(help: ArgumentHelp("The folder whose clips, pictures and frame folders the studio may open (default: the current folder).", valueName: "dir"))
    var root: String?

    @Option(help: "Largest upload, in MiB.")
    var maxUploadMb = 512

    @OptionGroup var models: ModelOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be from 0 to 65535, got \(port)") }
        guard maxUploadMb > 0 else { throw ValidationError("--max-upload-mb must be positive, got \(maxUploadMb)") }
    }

    func run() throws {
        try reportingErrors {
            let root = self.root ?? "."
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root, isDirectory: &isFolder), isFolder.boolValue else {
                throw StylizeError.invalidArgument("--root \(root) is not a folder")
            }
            if !["127.0.0.1", "::1", "localhost"].contains(host) {
                FileHandle.standardError.write(Data("stylize: warning: listening on \(host): other machines can open the studio and every file under \(root)\n".utf8))
            }
            var configuration = StudioConfiguration(root: URL(fileURLWithPath: root))
            configuration.host = host
            configuration.port = port
            configuration.maxUploadBytes = maxUploadMb << 20
            configuration.modelsDirectory = models.directory.map { URL(fileURLWithPath: $0) }
            try Self.serve(configuration)
        }
    }

    /// Serves `configuration`'s studio until Ctrl-C, printing its address first; a port in use
    /// is a one-line error.
    static func serve(_ configuration: StudioConfiguration, announcing name: String = "stylize studio") throws {
        let server = try StudioServer(configuration)
        let outcome = Locked<Error?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                try await server.run { url in
                    FileHandle.standardOutput.write(Data("\(name): \(url)\n".utf8))
                }
            } catch {
                outcome.withLock { $0 = error }
            }
            done.signal()
        }
        done.wait()
        if let error = outcome.withLock({ $0 }) {
            if "\(error)".contains("Address already in use") {
                throw StylizeError.invalidArgument("cannot listen on \(configuration.host):\(configuration.port): the port is in use; pass --port with another number, or --port 0 for any free one")
            }
            throw StylizeError.invalidArgument("the studio stopped: \(error)")
        }
    }
}
#endif
