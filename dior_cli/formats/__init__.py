"""Readers and writers of every file that passes between stages.

Nothing outside this package opens a stage's files. Every reader validates what it reads
and raises :class:`dior_cli.errors.DiorError` naming the file and the line, frame or row;
every writer writes atomically (:mod:`dior_cli.formats.atomic`).
"""
