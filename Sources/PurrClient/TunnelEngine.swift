import PurrCore
