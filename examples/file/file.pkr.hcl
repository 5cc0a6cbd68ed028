# The file builder makes an artifact from text (or copies a file); the checksum and manifest
# post-processors then record it, as they would a disk image. Runs anywhere forge runs, and
# writes only into var.output_dir:  forge build examples/file
variable "output_dir" {
  type        = string
  default     = "output-file"
  description = "Where the artifact, its checksums and the manifest go"
}

variable "release" {
  type    = string
  default = "1.0"
}

source "file" "release-notes" {
  content = "release ${var.release}, built by forge\n"
  target  = "${var.output_dir}/release-notes.txt"
}

build {
  sources = ["source.file.release-notes"]

  post-processors {
    post-processor "checksum" {
      checksum_types      = ["sha256", "md5"]
      output              = "${var.output_dir}/release-notes.{{.ChecksumType}}"
      keep_input_artifact = true
    }
  }

  post-processor "manifest" {
    output     = "${var.output_dir}/manifest.json"
    strip_path = true
    custom_data = {
      release = var.release
    }
  }
}
