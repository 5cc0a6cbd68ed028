# A Docker image built from a Debian base: provisioned with shell and file, committed with a
# label, and tagged. Needs a running Docker engine (forge talks to its API; no docker CLI).
#
#   forge build examples/docker
#
# pulls debian:bookworm. On a machine that cannot pull, make a base locally first
# (scripts/docker-base-image.sh, which scripts/quickstart.sh runs for you) and use it:
#
#   forge build -var image=forge-test/debian:bookworm -var pull=false examples/docker
variable "image" {
  type        = string
  default     = "debian:bookworm"
  description = "The base image"
}

variable "pull" {
  type        = bool
  default     = true
  description = "Pull the base image first (false for an image only the local engine has)"
}

variable "repository" {
  type        = string
  default     = "forge-example/hello"
  description = "Where the result is tagged (as repository:latest)"
}

source "docker" "debian" {
  image   = var.image
  pull    = var.pull
  commit  = true
  changes = ["LABEL org.example.built-by=forge", "CMD [\"cat\", \"/etc/motd\"]"]
}

build {
  sources = ["source.docker.debian"]

  provisioner "file" {
    source      = "${path.root}/motd"
    destination = "/etc/motd"
  }

  provisioner "shell" {
    inline = [
      "echo \"built by forge on $(date -u +%F) from Debian $(cat /etc/debian_version)\" >> /etc/motd",
      "cat /etc/motd",
    ]
  }

  post-processor "docker-tag" {
    repository = var.repository
    tags       = ["latest"]
  }
}
