source "file" "nowhere" {
  content = "lost"
}

build {
  sources = ["source.file.nowhere"]
}
