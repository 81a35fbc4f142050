"""Allow ``python -m ceremony`` as well as the ``ceremony`` console script."""

from ceremony.cli import main

if __name__ == "__main__":
    main()
