"""Allow ``python -m dior_cli`` (and ``torchrun -m dior_cli``)."""

from dior_cli.cli import main

if __name__ == "__main__":
    main()
